"""The narrative value objects: sentences and the three-layer narrative.

Every number a narrative shows is a claim (:class:`healthplatform.verify.claims.Claim`, owned
by the verifier that checks it). Sentences carry the ids of the claims they show; the writer
(``narratives.writer``) refuses a sentence with a digit that no claim accounts for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from healthplatform.verify.claims import Claim

LAYERS = ("statistical", "structural", "semantic")


@dataclass(frozen=True)
class Sentence:
    layer: str
    domain: str  # a metrics domain, or "day" for the header and closing lines
    text: str
    claims: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"layer": self.layer, "domain": self.domain, "text": self.text,
                "claims": list(self.claims)}  # fmt: skip


@dataclass(frozen=True)
class Narrative:
    """Three layers of deterministic text built from claims: numbers, patterns, cautious
    interpretation."""

    sentences: tuple[Sentence, ...] = ()
    claims: tuple[Claim, ...] = ()

    def layer(self, name: str) -> str:
        return "\n".join(s.text for s in self.sentences if s.layer == name)

    @property
    def statistical(self) -> str:
        return self.layer("statistical")

    @property
    def structural(self) -> str:
        return self.layer("structural")

    @property
    def semantic(self) -> str:
        return self.layer("semantic")

    @property
    def text(self) -> str:
        """The non-empty layers, in order, separated by a blank line."""
        return "\n\n".join(p for p in (self.layer(name) for name in LAYERS) if p)

    def preview(self, n: int = 200) -> str:
        """The text on one line, cut to at most ``n`` characters (ending in '...' if cut)."""
        flat = " ".join(self.text.split())
        if len(flat) <= n:
            return flat
        return flat[: max(0, n - 3)].rstrip() + "..."

    def for_domain(self, domain: str) -> Narrative:
        """Only the sentences about ``domain`` (and the claims they show)."""
        kept = tuple(s for s in self.sentences if s.domain == domain)
        ids = {c for s in kept for c in s.claims}
        return Narrative(kept, tuple(c for c in self.claims if c.id in ids))

    def claims_json(self) -> list[dict[str, Any]]:
        return [c.to_json() for c in self.claims]

    def sentences_json(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.sentences]

    @classmethod
    def from_json(cls, sentences: list[dict[str, Any]], claims: list[dict[str, Any]]) -> Narrative:
        return cls(
            tuple(
                Sentence(s["layer"], s["domain"], s["text"], tuple(s["claims"])) for s in sentences
            ),
            tuple(Claim.from_json(c) for c in claims),
        )
