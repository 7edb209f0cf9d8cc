"""Wire models. WebAuthn requests and options are camelCase (the previous server's
contract); token responses are snake_case (OAuth style)."""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from healthplatform.auth.challenges import MAX_REQUEST_ID_CHARS


def _clean_text(value: str, *, lower: bool, most: int = 64) -> str:
    text = unicodedata.normalize("NFKC", value).strip()
    if lower:
        text = text.lower()
    if not text or len(text) > most:
        raise ValueError(f"must be 1 to {most} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise ValueError("must not contain control or format characters")
    return text


def _username(value: str) -> str:
    return _clean_text(value, lower=True)


def _display_name(value: str) -> str:
    return _clean_text(value, lower=False)


def _account_display_name(value: str) -> str:
    return _clean_text(value, lower=False, most=ACCOUNT_DISPLAY_NAME_CHARS)


# 1-64 characters as sent and again after NFKC normalisation and trimming
Username = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_username)]
DisplayName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_display_name)]
# an account's display name: 1-128 as the previous server's contract allowed
ACCOUNT_DISPLAY_NAME_CHARS = 128
AccountDisplayName = Annotated[
    str,
    Field(min_length=1, max_length=ACCOUNT_DISPLAY_NAME_CHARS),
    AfterValidator(_account_display_name),
]
RequestId = Annotated[str, Field(min_length=1, max_length=MAX_REQUEST_ID_CHARS)]
# the PublicKeyCredential serialised by the client; an object is accepted too
CredentialJson = Annotated[str | dict[str, Any], Field(union_mode="left_to_right")]


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


# --- requests --------------------------------------------------------------------------------


def _blank_to_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class RegisterStartRequest(CamelModel):
    username: Username
    display_name: Annotated[AccountDisplayName | None, BeforeValidator(_blank_to_none)] = None


class CompleteRequest(CamelModel):
    request_id: RequestId
    credential: CredentialJson


class AuthenticateStartRequest(CamelModel):
    """A blank or missing username means a usernameless (discoverable credential) login."""

    username: Annotated[Username | None, BeforeValidator(_blank_to_none)] = None


class PasskeyStartRequest(CamelModel):
    name: DisplayName | None = None


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    refresh_token: str = Field(min_length=1, max_length=256)


# --- responses -------------------------------------------------------------------------------


class PublicKeyEnvelope(CamelModel):
    public_key: dict[str, Any]


class RegisterStartResponse(CamelModel):
    request_id: str
    public_key_credential_creation_options: PublicKeyEnvelope


class AuthenticateStartResponse(CamelModel):
    request_id: str
    public_key_credential_request_options: PublicKeyEnvelope


class ErrorBody(BaseModel):
    """Every refusal: ``{"error": "<message>"}`` (the previous server's contract), plus the
    stable ``code`` (docs/errors.md) for clients that ask (``X-HP-Auth-Features: error-code``)."""

    model_config = ConfigDict(extra="forbid")

    error: str
    code: str | None = None


class SuccessResponse(CamelModel):
    """``passkeyId`` only where asked for (``X-HP-Auth-Features: passkey-id`` on
    ``/register/complete``; always on ``/passkeys/register/complete``)."""

    success: bool = True
    message: str
    passkey_id: Annotated[
        uuid.UUID | None, WithJsonSchema({"type": "string", "format": "uuid"})
    ] = None


class TokenResponse(BaseModel):
    """The refresh fields only where asked for (``X-HP-Auth-Features: refresh-token`` on
    ``/authenticate/complete``; always on ``/token/refresh``)."""

    success: bool = True
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 (the scheme name, not a secret)
    expires_in: int
    username: str
    refresh_token: Annotated[str | None, WithJsonSchema({"type": "string"})] = None
    refresh_expires_in: Annotated[int | None, WithJsonSchema({"type": "integer"})] = None


class PasskeyOut(CamelModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool
    device_type: str
    transports: list[str]
    aaguid: str


class PasskeyList(CamelModel):
    passkeys: list[PasskeyOut]


class DeviceOut(CamelModel):
    id: uuid.UUID
    label: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    current: bool


class DeviceList(CamelModel):
    devices: list[DeviceOut]
