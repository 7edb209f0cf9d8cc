"""Prometheus metrics of the auth service (names are what dashboards and alerts use)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

AUTH_FAILURES = Counter(
    "hp_auth_failures_total",
    "Refused auth requests by reason (verification, request id, origin, counter, refresh...).",
    ["reason"],
)
LOGINS = Counter("hp_auth_logins_total", "Successful passkey logins.", ["mode"])
REGISTRATIONS = Counter(
    "hp_auth_registrations_total", "Passkeys registered (new account or added).", ["kind"]
)
TOKEN_REFRESHES = Counter("hp_auth_token_refreshes_total", "Refresh tokens rotated.")
SESSIONS_REVOKED = Counter(
    "hp_auth_sessions_revoked_total", "Device sessions revoked by reason.", ["reason"]
)
SIGNING_KEYS = Gauge("hp_auth_signing_keys", "Signing keys published, by state.", ["state"])
