"""What a consumer receives, whichever queue it comes from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Delivery:
    """One event handed to a consumer. Exactly one of ack/retry/dead_letter must be called."""

    message_id: str
    topic: str
    payload: dict[str, Any]
    headers: dict[str, Any]
    attempt: int
    _settle: Any = field(repr=False, default=None)

    async def ack(self) -> None:
        await self._settle.ack(self)

    async def retry(
        self,
        error: str,
        delay_seconds: float,
        *,
        headers: dict[str, Any] | None = None,
        counted: bool = True,
    ) -> None:
        """Give the event back for another attempt after ``delay_seconds``, with
        ``headers`` merged into its headers. An uncounted retry (a dependency was down:
        the worker keeps its own time budget) does not count towards the delivery limit."""
        await self._settle.retry(self, error, delay_seconds, headers=headers, counted=counted)

    async def dead_letter(self, error: str) -> None:
        """Park the event with its error; it will not be delivered again."""
        await self._settle.dead_letter(self, error)


class EventConsumer(Protocol):
    delivery_limit: int

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def deliveries(self) -> AsyncIterator[Delivery]: ...
