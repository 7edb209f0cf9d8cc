"""CORS at the gateway for the configured client origins only (issue 17, item 8): Envoy
answers the preflights of both the passkey routes and the JWT-protected /v1 routes; no
origin list, no CORS; a wildcard is refused by the values schema."""

from __future__ import annotations

import pytest

from healthplatform_deploy import kube
from tests.deploy.test_charts import crd_problems, render

OLD_CLIENT = "https://old-client.example.org"


def policies(**sets: str) -> dict[str, kube.Doc]:
    return {
        str(d["metadata"]["name"]): d for d in kube.of_kind(render(None, **sets), "SecurityPolicy")
    }


def test_no_origins_no_cors() -> None:
    found = policies()
    assert list(found) == ["healthplatform-api-jwt"]
    assert "cors" not in found["healthplatform-api-jwt"]["spec"]


def test_configured_origins_get_cors_on_both_route_sets() -> None:
    docs = render(None, **{"gateway.corsOrigins": f"{{{OLD_CLIENT}}}"})
    assert not crd_problems(docs)
    found = {str(d["metadata"]["name"]): d for d in kube.of_kind(docs, "SecurityPolicy")}
    assert set(found) == {"healthplatform-api-jwt", "healthplatform-auth-cors"}
    targets = {name: [t["name"] for t in doc["spec"]["targetRefs"]] for name, doc in found.items()}
    assert targets["healthplatform-auth-cors"] == ["healthplatform-auth-routes"]
    assert "jwt" not in found["healthplatform-auth-cors"]["spec"]  # the passkey routes stay public
    for doc in found.values():
        cors = doc["spec"]["cors"]
        assert cors["allowOrigins"] == [OLD_CLIENT]
        assert "X-HP-Auth-Features" in cors["allowHeaders"]
        assert "Authorization" in cors["allowHeaders"]
        assert not cors.get("allowCredentials")


@pytest.mark.parametrize("origin", ["*", "https://*.example.org", "null", "https://a.example/x"])
def test_wildcards_and_paths_are_refused(origin: str) -> None:
    with pytest.raises(RuntimeError):
        render(None, **{"gateway.corsOrigins": f"{{{origin}}}"})
