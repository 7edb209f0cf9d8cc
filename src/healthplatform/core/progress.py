"""How long-running work reports progress (rich bars in the CLI, nothing in tests)."""

from __future__ import annotations

from typing import Protocol


class Bar(Protocol):
    def total(self, n: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


class Reporter(Protocol):
    def step(self, text: str) -> None:
        """A short line about what happens now."""

    def bar(self, description: str) -> Bar:
        """A progress bar whose total is set once known."""


class _NullBar:
    def total(self, n: int) -> None:
        return None

    def advance(self, n: int = 1) -> None:
        return None


class QuietReporter:
    """Reports nothing (library use, tests)."""

    def __init__(self) -> None:
        self.steps: list[str] = []

    def step(self, text: str) -> None:
        self.steps.append(text)

    def bar(self, description: str) -> Bar:
        return _NullBar()


def short_error(exc: BaseException) -> str:
    """One line for a report (SQLAlchemy appends the statement and a link to its message)."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:500]
