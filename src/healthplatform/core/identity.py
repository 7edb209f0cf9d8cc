"""Who the caller is in stored data: the opaque user key every row and object carries."""

from __future__ import annotations

import hashlib


def user_key(subject: str) -> str:
    """Opaque, path-safe id of a user derived from the token subject (never user text).
    Stored data is keyed by it: its output must never change."""
    return hashlib.sha256(f"hp-user:{subject}".encode()).hexdigest()[:32]
