"""The previous passkey server's clients, replayed against this service over real HTTP.

Requests are what those clients send (the contracts README, section 2, in the test artifacts: the
TypeScript web client from its own origin, the generated Android client, and the old
test-credential generator, which leaves out ``rawId``). Answers are parsed with the rules
of the Android client's generated models: strict JSON, an unknown field is an error, a
missing one too. Then the same answers are checked against the service's own OpenAPI
document (every status documented, every body valid, no undocumented field)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal, TypeVar

import httpx
import jsonschema
import jwt
import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from healthplatform.auth.app import create_auth_app
from healthplatform.auth.settings import AuthSettings
from tests.integration.auth.conftest import APP_ORIGIN, ORIGIN
from tests.integration.auth.servers import serve
from tests.integration.auth.softauthn import SoftAuthenticator

pytestmark = pytest.mark.integration

OTHER_ORIGIN = "https://evil.example"


# --- the old Android client's models (strict: unknown or missing fields throw) -----------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RpEntity(Strict):
    id: str
    name: str


class UserEntity(Strict):
    id: str
    name: str
    displayName: str


class CredParam(Strict):
    type: Literal["public-key"]
    alg: int


class Descriptor(Strict):
    id: str
    type: Literal["public-key"]
    transports: list[str] | None = None


class Selection(Strict):
    authenticatorAttachment: str | None = None
    residentKey: str | None = None
    requireResidentKey: bool | None = None
    userVerification: str | None = None


class CreationOptions(Strict):
    """PublicKeyCredentialCreationOptionsJSON (WebAuthn Level 3)."""

    rp: RpEntity
    user: UserEntity
    challenge: str
    pubKeyCredParams: list[CredParam]
    timeout: int | None = None
    excludeCredentials: list[Descriptor] | None = None
    authenticatorSelection: Selection | None = None
    hints: list[str] | None = None
    attestation: str | None = None
    attestationFormats: list[str] | None = None
    extensions: dict[str, Any] | None = None


class RequestOptions(Strict):
    """PublicKeyCredentialRequestOptionsJSON (WebAuthn Level 3)."""

    challenge: str
    timeout: int | None = None
    rpId: str | None = None
    allowCredentials: list[Descriptor] | None = None
    userVerification: str | None = None
    hints: list[str] | None = None
    extensions: dict[str, Any] | None = None


class CreationEnvelope(Strict):
    publicKey: CreationOptions


class RequestEnvelope(Strict):
    publicKey: RequestOptions


class RegisterStartAnswer(Strict):
    requestId: str
    publicKeyCredentialCreationOptions: CreationEnvelope


class RegisterCompleteAnswer(Strict):
    success: bool
    message: str


class AuthenticateStartAnswer(Strict):
    requestId: str
    publicKeyCredentialRequestOptions: RequestEnvelope


class AuthenticateCompleteAnswer(Strict):
    success: bool
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    username: str


class ErrorAnswer(Strict):
    error: str


class Jwk(Strict):
    kty: Literal["RSA"]
    use: Literal["sig"]
    kid: str
    alg: str
    n: str
    e: str


class JwksAnswer(Strict):
    keys: list[Jwk]


class HealthAnswer(Strict):
    status: Literal["healthy"]
    timestamp: int


# --- the OpenAPI document as a strict validator --------------------------------------------


def _closed(schema: Any) -> Any:
    """Every object schema with listed properties refuses other properties."""
    if isinstance(schema, dict):
        result = {k: _closed(v) for k, v in schema.items()}
        if "properties" in result and "additionalProperties" not in result:
            result["additionalProperties"] = False
        return result
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


class OpenApi:
    def __init__(self, document: dict[str, Any]) -> None:
        self.doc = document
        self.components = _closed(copy.deepcopy(document.get("components", {})))

    def operation(self, method: str, path: str) -> dict[str, Any]:
        operation: dict[str, Any] = self.doc["paths"][path][method.lower()]
        return operation

    def check_request(self, method: str, path: str, body: dict[str, Any]) -> None:
        schema = self.operation(method, path)["requestBody"]["content"]["application/json"]
        self._validate(schema["schema"], body)

    def check_response(self, method: str, path: str, response: httpx.Response) -> None:
        responses = self.operation(method, path)["responses"]
        documented = responses.get(str(response.status_code))
        assert documented is not None, f"{method} {path}: {response.status_code} undocumented"
        schema = documented.get("content", {}).get("application/json", {}).get("schema")
        if schema:
            self._validate(schema, response.json())

    def _validate(self, schema: dict[str, Any], value: Any) -> None:
        root = {**_closed(schema), "components": self.components}
        jsonschema.Draft202012Validator(root).validate(value)


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def old_client_url(auth_settings: AuthSettings) -> Iterator[str]:
    """The service with the old web client's own origin configured for CORS."""
    settings = auth_settings.model_copy(update={"cors_origins": [APP_ORIGIN]})
    with serve(create_auth_app(settings)) as url:
        yield url


@pytest.fixture
async def old(old_client_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An old client: no ``X-HP-Auth-Features`` header."""
    async with httpx.AsyncClient(base_url=old_client_url, timeout=10) as http:
        yield http


@pytest.fixture
async def openapi(old: httpx.AsyncClient) -> OpenApi:
    response = await old.get("/auth/openapi.json")
    assert response.status_code == 200
    return OpenApi(response.json())


def old_credential(credential: dict[str, Any]) -> str:
    """The old test-credential generator: no ``rawId``; sent as a JSON string."""
    return json.dumps({k: v for k, v in credential.items() if k != "rawId"})


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], response: httpx.Response) -> M:
    return model.model_validate_json(response.content, strict=True)


# --- the replay ---------------------------------------------------------------------------


async def test_old_clients_full_flow(
    old: httpx.AsyncClient, openapi: OpenApi, auth_settings: AuthSettings, username: str
) -> None:
    device = SoftAuthenticator(origin=ORIGIN)
    calls: list[tuple[str, str, httpx.Response]] = []

    async def post(path: str, body: dict[str, Any]) -> httpx.Response:
        openapi.check_request("POST", path, body)
        response = await old.post(path, json=body)
        calls.append(("POST", path, response))
        return response

    body = {"username": username, "displayName": "Old Client"}
    start = await post("/register/start", body)
    assert start.status_code == 200, start.text
    options = parse(RegisterStartAnswer, start)
    public_key = start.json()["publicKeyCredentialCreationOptions"]["publicKey"]
    assert options.publicKeyCredentialCreationOptions.publicKey.rp.id == auth_settings.rp_id

    credential = old_credential(device.create(public_key))
    done = await post(
        "/register/complete", {"requestId": options.requestId, "credential": credential}
    )
    assert done.status_code == 200, done.text
    assert parse(RegisterCompleteAnswer, done) == RegisterCompleteAnswer(
        success=True, message="Registration successful"
    )

    taken = await post("/register/start", body)
    assert taken.status_code == 409
    assert parse(ErrorAnswer, taken).error == "username already registered"

    # with a username; usernameless as the old web client sends it (null) and as `{}`
    for login_body in ({"username": username}, {"username": None}, {}):
        start = await post("/authenticate/start", login_body)
        assert start.status_code == 200, start.text
        request = parse(AuthenticateStartAnswer, start)
        assertion = old_credential(
            device.get(start.json()["publicKeyCredentialRequestOptions"]["publicKey"])
        )
        done = await post(
            "/authenticate/complete", {"requestId": request.requestId, "credential": assertion}
        )
        assert done.status_code == 200, done.text
        tokens = parse(AuthenticateCompleteAnswer, done)
        assert tokens.username == username and tokens.expires_in == auth_settings.access_token_ttl

    # the token: `sub` is the opaque user id; old resource servers read the username from
    # `preferred_username` (docs/auth.md); `aud` is a string and the header names the key
    header = jwt.get_unverified_header(tokens.access_token)
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    assert isinstance(header["kid"], str) and isinstance(claims["aud"], str)
    assert claims["preferred_username"] == username and claims["sub"] != username
    assert claims["exp"] - claims["iat"] == auth_settings.access_token_ttl

    replayed = await post(
        "/authenticate/complete", {"requestId": request.requestId, "credential": assertion}
    )
    assert replayed.status_code == 400 and parse(ErrorAnswer, replayed).error

    jwks = await old.get("/.well-known/jwks.json")
    assert jwks.headers["cache-control"] == "max-age=300, stale-if-error=3600, public"
    assert parse(JwksAnswer, jwks).keys
    health = await old.get("/health")
    assert parse(HealthAnswer, health).status == "healthy"

    for method, path, response in calls:  # the document says what the service did
        openapi.check_response(method, path, response)


async def test_old_clients_errors_are_error_objects(
    old: httpx.AsyncClient, openapi: OpenApi
) -> None:
    cases: list[tuple[str, Any]] = [
        ("/register/start", {"username": ""}),
        ("/register/start", {"username": "x" * 65}),
        ("/register/start", {"displayName": "no username"}),
        ("/register/start", {"username": "z", "displayName": "d" * 129}),
        ("/register/start", [1, 2]),
        ("/register/complete", {"requestId": "unknown", "credential": "{}"}),
        ("/register/complete", {"requestId": "unknown"}),
        ("/authenticate/complete", {"credential": "{}"}),
        ("/authenticate/complete", {"requestId": "x" * 43, "credential": "not json"}),
    ]
    for path, body in cases:
        response = await old.post(path, json=body)
        assert response.status_code == 400, (path, body, response.text)
        assert parse(ErrorAnswer, response).error, (path, body)
        openapi.check_response("POST", path, response)
    longest = {"username": "y" * 64, "displayName": "d" * 128}  # the old contract's limits
    ok = await old.post("/register/start", json=longest)
    assert ok.status_code in (200, 409), ok.text


async def test_the_document_says_what_the_service_does(openapi: OpenApi) -> None:
    doc = openapi.doc
    schemas = doc["components"]["schemas"]
    username = schemas["RegisterStartRequest"]["properties"]["username"]
    assert (username["minLength"], username["maxLength"]) == (1, 64)
    display = schemas["RegisterStartRequest"]["properties"]["displayName"]["anyOf"][0]
    assert (display["minLength"], display["maxLength"]) == (1, 128)
    assert schemas["RegisterStartRequest"]["required"] == ["username"]
    assert sorted(schemas["CompleteRequest"]["required"]) == ["credential", "requestId"]
    token = schemas["TokenResponse"]
    assert "refresh_token" not in token.get("required", [])  # only where asked for
    assert {"access_token", "expires_in", "username"} <= set(token["required"])
    assert "passkeyId" not in schemas["SuccessResponse"].get("required", [])
    assert "HTTPValidationError" not in schemas  # no 422 {"detail"}: errors are {"error"}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            for status, answer in responses.items():
                if status.startswith(("4", "5")):
                    ref = answer["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorBody"), (method, path, status)
    assert "/auth/openapi.json" not in doc["paths"]


async def test_new_clients_ask_for_the_additions(
    old: httpx.AsyncClient, openapi: OpenApi, username: str
) -> None:
    device = SoftAuthenticator(origin=ORIGIN)
    features = {"X-HP-Auth-Features": "refresh-token, passkey-id"}
    start = (await old.post("/register/start", json={"username": username})).json()
    public_key = start["publicKeyCredentialCreationOptions"]["publicKey"]
    done = await old.post(
        "/register/complete",
        json={"requestId": start["requestId"], "credential": json.dumps(device.create(public_key))},
        headers=features,
    )
    assert done.status_code == 200 and set(done.json()) == {"success", "message", "passkeyId"}
    openapi.check_response("POST", "/register/complete", done)
    for asked, expected in (
        ("refresh-token", {"refresh_token", "refresh_expires_in"}),
        ("passkey-id", set()),
        ("", set()),
    ):
        start = (await old.post("/authenticate/start", json={"username": username})).json()
        assertion = device.get(start["publicKeyCredentialRequestOptions"]["publicKey"])
        done = await old.post(
            "/authenticate/complete",
            json={"requestId": start["requestId"], "credential": json.dumps(assertion)},
            headers={"X-HP-Auth-Features": asked},
        )
        assert done.status_code == 200, done.text
        base = {"success", "access_token", "token_type", "expires_in", "username"}
        assert set(done.json()) == base | expected, asked
        openapi.check_response("POST", "/authenticate/complete", done)


# --- the old web client from its own origin (CORS) -----------------------------------------


async def test_cors_for_the_configured_client_origin_only(old: httpx.AsyncClient) -> None:
    for path, method in (
        ("/register/start", "POST"),
        ("/authenticate/complete", "POST"),
        ("/passkeys", "GET"),
    ):
        preflight = await old.options(
            path,
            headers={
                "Origin": APP_ORIGIN,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "content-type, authorization",
            },
        )
        assert preflight.status_code == 204, (path, preflight.status_code)
        assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
        assert method in preflight.headers["access-control-allow-methods"]
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert {"content-type", "authorization", "x-hp-auth-features"} <= {
            h.strip() for h in allowed.split(",")
        }
        assert "access-control-allow-credentials" not in preflight.headers
        refused = await old.options(
            path, headers={"Origin": OTHER_ORIGIN, "Access-Control-Request-Method": method}
        )
        assert "access-control-allow-origin" not in refused.headers
    answer = await old.post("/authenticate/start", json={}, headers={"Origin": APP_ORIGIN})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "origin" in answer.headers["vary"].lower()
    for origin in (OTHER_ORIGIN, "null", APP_ORIGIN + ".evil.example"):
        other = await old.post("/authenticate/start", json={}, headers={"Origin": origin})
        assert other.status_code == 200 and "access-control-allow-origin" not in other.headers


def test_cors_origins_are_never_a_wildcard() -> None:
    for bad in ("*", "https://*.health.test", "null", "https://health.test/path", "ftp://x"):
        with pytest.raises(ValidationError):
            AuthSettings(rp_id="health.test", cors_origins=[bad])
    settings = AuthSettings(rp_id="health.test", cors_origins="https://App.Health.test:8443/")
    assert settings.cors_origins == ["https://app.health.test:8443"]


async def test_error_codes_only_for_clients_that_ask(
    old: httpx.AsyncClient, openapi: OpenApi
) -> None:
    asked = {"X-HP-Auth-Features": "error-code"}
    for headers, expected in (({}, None), (asked, "request_refused")):
        response = await old.post(
            "/register/complete", json={"requestId": "unknown", "credential": "{}"}, headers=headers
        )
        assert response.status_code == 400
        assert response.json().get("code") == expected
        openapi.check_response("POST", "/register/complete", response)
    invalid = await old.post("/register/start", json={"username": ""}, headers=asked)
    assert invalid.status_code == 400 and invalid.json()["code"] == "validation_failed"
    signed_out = await old.get("/passkeys", headers=asked)
    assert signed_out.status_code == 401
    assert signed_out.json()["code"] == "authentication_failed"
