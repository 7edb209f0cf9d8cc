"""Fixtures of the application security tests: the API fixtures of tests/conftest.py (`api`,
`keys`, `settings` on the embedded and the production backends) apply here as everywhere;
the auth service's come from its own integration tests."""

from tests.integration.auth.conftest import (  # noqa: F401 (fixtures)
    auth,
    auth_pg_url,
    auth_settings,
    embedded_auth_settings,
    production_auth_settings,
    username,
)
