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
