"""Which ``clientDataJSON.origin`` values a ceremony may come from."""

from __future__ import annotations

from urllib.parse import urlsplit

from healthplatform.auth.settings import ANDROID_ORIGIN_PREFIX, AuthSettings

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _parse(origin: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of a serialised web origin, or ``None`` if it is not one."""
    if len(origin) > 2048:
        return None
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in _DEFAULT_PORTS or not host or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return scheme, host, port or _DEFAULT_PORTS[scheme]


class OriginPolicy:
    """Exact web origins (or, with ``allow_any_port``, any port of them) and the
    configured ``android:apk-key-hash:`` origins of the app's signing certificates."""

    def __init__(self, settings: AuthSettings) -> None:
        self.any_port = settings.allow_any_port
        self.web = {p for p in map(_parse, settings.web_origins) if p is not None}
        self.android = settings.android_origins

    def allows(self, origin: str) -> bool:
        if origin.startswith(ANDROID_ORIGIN_PREFIX):
            return origin in self.android
        parsed = _parse(origin)
        if parsed is None:
            return False
        if self.any_port:
            return any(parsed[:2] == allowed[:2] for allowed in self.web)
        return parsed in self.web
