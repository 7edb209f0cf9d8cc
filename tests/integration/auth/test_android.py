"""Android apps: `android:apk-key-hash:` origins and the Digital Asset Links document."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from healthplatform.auth.settings import AuthSettings
from tests.integration.auth.conftest import (
    ANDROID_FINGERPRINT,
    ANDROID_ORIGIN,
    ANDROID_PACKAGE,
    AuthClient,
    open_client,
)
from tests.integration.auth.softauthn import SoftAuthenticator

pytestmark = pytest.mark.integration


async def test_android_origin_accepted_when_configured(auth: AuthClient, username: str) -> None:
    phone = SoftAuthenticator(origin=ANDROID_ORIGIN)
    await auth.register(username, phone)
    assert (await auth.login(phone, username))["username"] == username
    assert (await auth.login(phone))["username"] == username  # usernameless too


async def test_android_origin_refused_otherwise(
    fresh_auth_settings: Callable[..., AuthSettings], username: str
) -> None:
    settings = fresh_auth_settings(android_package_name="", android_cert_fingerprints=[])
    async for auth in open_client(settings):
        phone = SoftAuthenticator(origin=ANDROID_ORIGIN)
        request_id, options = await auth.start_registration(username)
        response = await auth.complete("/register/complete", request_id, phone.create(options))
        assert response.status_code == 400 and "origin" in response.json()["error"]

        web = await auth.register(username)  # a web passkey, then an app login attempt
        request_id, options = await auth.start_login(username)
        assertion = web.get(options, origin=ANDROID_ORIGIN)
        response = await auth.complete("/authenticate/complete", request_id, assertion)
        assert response.status_code == 401 and "origin" in response.json()["error"]
        assert (await auth.http.get("/.well-known/assetlinks.json")).json() == []


async def test_assetlinks(auth: AuthClient) -> None:
    response = await auth.http.get("/.well-known/assetlinks.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == [
        {
            "relation": [
                "delegate_permission/common.handle_all_urls",
                "delegate_permission/common.get_login_creds",
            ],
            "target": {
                "namespace": "android_app",
                "package_name": ANDROID_PACKAGE,
                "sha256_cert_fingerprints": [ANDROID_FINGERPRINT],
            },
        }
    ]
