"""The narrative value object."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Narrative:
    """Three layers of deterministic text: numbers, patterns, cautious interpretation."""

    statistical: str
    structural: str
    semantic: str

    @property
    def text(self) -> str:
        """The non-empty layers, in order, separated by a blank line."""
        return "\n\n".join(p for p in (self.statistical, self.structural, self.semantic) if p)

    def preview(self, n: int = 200) -> str:
        """The text on one line, cut to at most ``n`` characters (ending in '...' if cut)."""
        flat = " ".join(self.text.split())
        if len(flat) <= n:
            return flat
        return flat[: max(0, n - 3)].rstrip() + "..."
