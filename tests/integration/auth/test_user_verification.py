"""User verification is required by default (issue 17 item 3): a passkey that proves only
presence (flags UP, no UV: no PIN, no biometrics) neither registers nor signs in."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from healthplatform.auth.settings import AuthSettings, UserVerification
from tests.integration.auth.conftest import ORIGIN, AuthClient
from tests.integration.auth.softauthn import FLAG_UP, FLAG_UV, SoftAuthenticator

pytestmark = pytest.mark.integration
CHART_VALUES = Path(__file__).resolve().parents[3] / "deploy/charts/healthplatform/values.yaml"


def test_required_is_the_default_in_code_and_chart() -> None:
    assert AuthSettings().user_verification is UserVerification.required
    values = yaml.safe_load(CHART_VALUES.read_text())
    assert values["apps"]["auth"]["settings"]["HP_AUTH_USER_VERIFICATION"] == "required"


async def test_presence_only_authenticator_is_refused(auth: AuthClient, username: str) -> None:
    assert auth.settings.user_verification is UserVerification.required  # not overridden
    up_only = SoftAuthenticator(origin=ORIGIN, user_verified=False)
    assert up_only._flags(attested=False, uv=None) & (FLAG_UP | FLAG_UV) == FLAG_UP

    request_id, options = await auth.start_registration(username)
    assert options["authenticatorSelection"]["userVerification"] == "required"
    response = await auth.complete("/register/complete", request_id, up_only.create(options))
    assert response.status_code == 400, response.text
    assert "user_verification" in response.json()["error"]

    device = await auth.register(username)  # with UV: accepted
    request_id, options = await auth.start_login(username)
    assert options["userVerification"] == "required"
    response = await auth.complete(
        "/authenticate/complete", request_id, device.get(options, uv=False)
    )
    assert response.status_code == 401, response.text
    assert "user_verification" in response.json()["error"]
    assert "access_token" not in response.json()
    await auth.login(device, username)  # the same passkey with UV signs in
