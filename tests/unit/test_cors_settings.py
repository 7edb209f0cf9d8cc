"""CORS settings: exact origins only, and `up` gives the auth service the API's list unless
HP_AUTH_CORS_ORIGINS says otherwise."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from healthplatform.apps.local import local_settings
from healthplatform.settings import Settings

OLD_CLIENT = "http://localhost:5173"


def test_api_cors_origins_are_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HP_CORS_ORIGINS", f"{OLD_CLIENT}/, https://App.Example.org")
    assert Settings().cors_origins == [OLD_CLIENT, "https://app.example.org"]
    for bad in ("*", "null", "https://*.example.org", "https://example.org/app", "file://x"):
        monkeypatch.setenv("HP_CORS_ORIGINS", bad)
        with pytest.raises(ValidationError):
            Settings()


def test_up_shares_the_list_with_the_auth_service(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HP_AUTH_CORS_ORIGINS", "HP_PUBLIC_URL", "HP_AUTH_ALLOWED_ORIGINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HP_CORS_ORIGINS", OLD_CLIENT)
    settings, auth_settings = local_settings(8123)
    assert settings.cors_origins == auth_settings.cors_origins == [OLD_CLIENT]
    monkeypatch.setenv("HP_AUTH_CORS_ORIGINS", "http://localhost:9999")
    _, auth_settings = local_settings(8123)
    assert auth_settings.cors_origins == ["http://localhost:9999"]
    monkeypatch.delenv("HP_CORS_ORIGINS")
    monkeypatch.delenv("HP_AUTH_CORS_ORIGINS")
    settings, auth_settings = local_settings(8123)
    assert settings.cors_origins == auth_settings.cors_origins == []  # same origin only
