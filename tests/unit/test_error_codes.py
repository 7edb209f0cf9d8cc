"""Stable error codes: one per error class, listed in docs/errors.md, carried by every error
body of the one error installer (API style and auth style); IntegrityError is 409."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from scripts.gen_config_doc import error_table
from sqlalchemy.exc import IntegrityError

from healthplatform.api.errors import install_error_handlers
from healthplatform.auth.compat import FEATURES_HEADER, AuthErrors
from healthplatform.auth.errors import UNAVAILABLE
from healthplatform.core.errors import NotFound, every_error_class

ROOT = Path(__file__).resolve().parents[2]


def test_every_error_class_has_its_own_code_and_the_doc_lists_them() -> None:
    table = error_table()  # imports every module first
    classes = every_error_class()
    assert len(classes) > 10
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), codes
    for cls in classes:
        assert "code" in vars(cls), f"{cls.__name__} inherits its parent's code"
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", cls.code), cls.code
        assert f"| `{cls.code}` |" in table
    doc = (ROOT / "docs/errors.md").read_text()
    assert table in doc, "run `make docs` to regenerate docs/errors.md"


def app_with_errors(*styled: object) -> TestClient:
    app = FastAPI()
    install_error_handlers(app, *styled)  # type: ignore[arg-type]

    @app.get("/race")
    async def race() -> None:
        raise IntegrityError("INSERT", {}, ValueError("duplicate key"))

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("no such thing")

    @app.get("/items/{number}")
    async def item(number: int) -> int:
        return number

    return TestClient(app)


def test_api_bodies_carry_the_code() -> None:
    client = app_with_errors()
    race = client.get("/race")
    assert race.status_code == 409
    assert race.json() == {"detail": "conflicting request, retry", "code": "conflict"}
    assert client.get("/missing").json() == {"detail": "no such thing", "code": "not_found"}
    assert client.get("/nowhere").json() == {"detail": "Not Found", "code": "not_found"}
    wrong_method = client.post("/missing")
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "method_not_allowed"
    invalid = client.get("/items/x")
    assert invalid.status_code == 422 and invalid.json()["code"] == "validation_failed"
    assert invalid.json()["detail"][0]["loc"] == ["path", "number"]


def test_api_openapi_documents_the_code() -> None:
    schemas = app_with_errors().get("/openapi.json").json()["components"]["schemas"]
    assert set(schemas["ErrorBody"]["required"]) == {"detail", "code"}
    assert set(schemas["HTTPValidationError"]["required"]) == {"detail", "code"}


def test_auth_bodies_keep_the_old_shape_unless_asked() -> None:
    client = app_with_errors(AuthErrors(), UNAVAILABLE)
    race = client.get("/race")
    assert race.status_code == 409 and race.json() == {"error": "conflicting request, retry"}
    invalid = client.get("/items/x")
    assert invalid.status_code == 400 and set(invalid.json()) == {"error"}
    asked = {FEATURES_HEADER: "error-code"}
    assert client.get("/race", headers=asked).json()["code"] == "conflict"
    assert client.get("/missing", headers=asked).json() == {
        "error": "no such thing",
        "code": "not_found",
    }
    assert client.get("/items/x", headers=asked).json()["code"] == "validation_failed"
