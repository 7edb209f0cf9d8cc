"""Writing sentences whose every number is a claim.

``w.val(...)`` and ``w.const(...)`` return the display text of a value and register it as a
claim; ``w.say(text)`` closes a sentence with the claims registered since the last one and
checks that every digit in it belongs to one of them (a sentence that shows a number no
claim accounts for is a bug: :class:`UnclaimedNumber`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from healthplatform.etl.narratives.model import Narrative, Sentence
from healthplatform.verify.claims import Claim

# Names that contain digits but are not numbers a person reads as a measurement.
NAMES = ("ACC/AHA 2017", "SpO2", "VO2", "stage 1 hypertension", "stage 2 hypertension")
_DIGIT = re.compile(r"\d")


class UnclaimedNumber(AssertionError):
    """A sentence shows a number that is not a claim."""


class Writer:
    """Collects the sentences and claims of one narrative.

    ``window``: the local window claims describe unless given their own (ISO start, end);
    ``records``: source records per domain; ``version``: the definitions version.
    """

    def __init__(
        self,
        window: tuple[str, str],
        records: dict[str, int],
        version: str,
        metrics: dict[str, Any] | None = None,
    ) -> None:
        self.window = window
        self.records = records
        self.version = version
        self.metrics = metrics or {}
        self.layer = "statistical"
        self.domain = "day"
        self.sentences: list[Sentence] = []
        self.claims: list[Claim] = []
        self._pending: list[Claim] = []

    def at(self, layer: str, domain: str) -> Writer:
        """Following sentences belong to ``layer`` and ``domain``."""
        self.layer, self.domain = layer, domain
        return self

    def val(
        self,
        metric: str,
        value: Any,
        unit: str,
        render: Callable[[Any], str],
        *,
        window: tuple[str, str] | None = None,
        records: int | None = None,
    ) -> str:
        """A measured value: ``metric`` is its path in the day's metrics (``domain.key...``)."""
        domain = metric.split(".", 1)[0]
        claim = Claim(
            id=f"c{len(self.claims) + len(self._pending) + 1}",
            metric=metric,
            value=value,
            unit=unit,
            text=render(value),
            window=window or self.window,
            records=self.records.get(domain, 0) if records is None else records,
            domain=self.domain,
            layer=self.layer,
            version=self.version,
        )
        self._pending.append(claim)
        return claim.text

    def m(self, metric: str, unit: str, render: Callable[[Any], str]) -> str:
        """A value of the day's metrics, by its path (``glucose.low_episodes.0.start``)."""
        node: Any = self.metrics
        for part in metric.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        return self.val(metric, node, unit, render)

    def past(
        self,
        metric: str,
        value: Any,
        unit: str,
        render: Callable[[Any], str],
        window: tuple[str, str],
        days: int,
    ) -> str:
        """A value computed from earlier days (``history.*``): its window is those days and
        it rests on ``days`` of them."""
        return self.val(f"history.{metric}", value, unit, render, window=window, records=days)

    def const(self, name: str, value: float, unit: str, render: Callable[[Any], str]) -> str:
        """A threshold or constant of a definition (``def.<name>``)."""
        return self.val(f"def.{name}", value, unit, render, records=0)

    def say(self, text: str) -> None:
        """Close a sentence: every digit must be inside one of its claims' texts."""
        taken = bytearray(len(text))  # characters already accounted for by a claim
        for claim in sorted(self._pending, key=lambda c: -len(c.text)):  # longest first
            at = text.find(claim.text)
            while at >= 0 and any(taken[at : at + len(claim.text)]):
                at = text.find(claim.text, at + 1)
            if at < 0 or not claim.text:
                raise UnclaimedNumber(f"claim {claim.metric} ({claim.text!r}) not in {text!r}")
            taken[at : at + len(claim.text)] = b"\1" * len(claim.text)
        rest = "".join("\0" if taken[i] else ch for i, ch in enumerate(text))
        for name in NAMES:
            rest = rest.replace(name, "")
        if _DIGIT.search(rest):
            raise UnclaimedNumber(f"unclaimed number in {text!r}")
        self.sentences.append(
            Sentence(self.layer, self.domain, text, tuple(c.id for c in self._pending))
        )
        self.claims += self._pending
        self._pending = []

    def narrative(self) -> Narrative:
        if self._pending:
            raise UnclaimedNumber(f"claims without a sentence: {[c.metric for c in self._pending]}")
        return Narrative(tuple(self.sentences), tuple(self.claims))
