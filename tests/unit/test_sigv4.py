"""Our SigV4 signer must produce exactly what botocore's S3 signer produces."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from botocore import auth as botocore_auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from healthplatform.storage.sigv4 import object_url, sign_request

MOMENT = datetime(2026, 11, 26, 5, 4, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    "key",
    [
        "raw/0123abcd/StepsRecord/2025/09/20/ab12.avro",
        "training/u/2025-09-20/day=1.json",
        "a/with space/and~tilde/and+plus.avro",
    ],
)
@pytest.mark.parametrize(
    "endpoint,region",
    [
        ("http://127.0.0.1:9000", "us-east-1"),
        (
            "https://axaxnpcrorw5.compat.objectstorage.eu-frankfurt-1.oraclecloud.com",
            "eu-frankfurt-1",
        ),
    ],
)
def test_signature_matches_botocore(
    monkeypatch: pytest.MonkeyPatch, key: str, endpoint: str, region: str
) -> None:
    body = b"Obj\x01" + bytes(range(256)) * 10
    payload = hashlib.sha256(body).hexdigest()
    url = object_url(endpoint, "health-data-lake", key)
    ours = sign_request(
        method="PUT",
        url=url,
        headers={"content-type": "avro/binary"},
        payload_sha256=payload,
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region=region,
        now=MOMENT,
    )

    monkeypatch.setattr(botocore_auth, "get_current_datetime", lambda: MOMENT.replace(tzinfo=None))
    request = AWSRequest(method="PUT", url=url, data=body, headers={"content-type": "avro/binary"})
    request.context["payload_signing_enabled"] = True
    botocore_auth.S3SigV4Auth(
        Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "s3", region
    ).add_auth(request)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["x-amz-content-sha256"] == request.headers["X-Amz-Content-SHA256"] == payload


def test_object_url_is_path_style_and_encoded() -> None:
    assert (
        object_url("https://ns.compat.example.com/", "b", "raw/a b/c.avro")
        == "https://ns.compat.example.com/b/raw/a%20b/c.avro"
    )


def test_signed_list_query_matches_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    """GET with a query string (ListObjectsV2) signs like botocore."""
    from healthplatform.storage.sigv4 import canonical_query

    empty = hashlib.sha256(b"").hexdigest()
    query = canonical_query(
        {
            "list-type": "2",
            "prefix": "training/u 1/2025/",
            "max-keys": "2",
            "continuation-token": "abc/+==",
        }
    )
    url = f"http://127.0.0.1:9000/health-data-lake?{query}"
    ours = sign_request(
        method="GET",
        url=url,
        headers={},
        payload_sha256=empty,
        access_key="AKIDEXAMPLE",
        secret_key="secret",
        region="us-east-1",
        now=MOMENT,
    )
    monkeypatch.setattr(botocore_auth, "get_current_datetime", lambda: MOMENT.replace(tzinfo=None))
    request = AWSRequest(method="GET", url=url, data=b"")
    request.context["payload_signing_enabled"] = True
    botocore_auth.S3SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "s3", "us-east-1").add_auth(
        request
    )
    assert ours["Authorization"] == request.headers["Authorization"]
