"""The chart's share of issue 17: rate limits on the auth routes at the gateway, the real
client IP through the OCI load balancer (PROXY protocol), user verification `required`,
and the API reading the auth service's revoked-session list in-cluster. Rendered objects
are validated against the CRD schemas (test_charts.py does the same for every object)."""

from __future__ import annotations

import re

import pytest

from healthplatform.auth.settings import AuthSettings
from healthplatform_deploy import kube
from tests.deploy.test_charts import PROFILES, crd_problems, render

pytestmark = pytest.mark.deploy
PROXY_PROTOCOL = "service.beta.kubernetes.io/oci-load-balancer-connection-proxy-protocol-version"
LIMITED = (
    "/register/start",
    "/authenticate/complete",
    "/token/refresh",
    "/passkeys/register/start",
)
NOT_LIMITED = (
    "/logout",
    "/devices",
    "/account",
    "/.well-known/jwks.json",
    "/passkeys",
    "/v1/upload",
)


def one(docs: list[kube.Doc], kind: str) -> kube.Doc:
    [doc] = kube.of_kind(docs, kind)
    return doc


def configmap_data(docs: list[kube.Doc], suffix: str) -> dict[str, str]:
    maps = [d for d in kube.of_kind(docs, "ConfigMap") if kube.name_of(d).endswith(suffix)]
    if suffix == "platform-config":  # the app ConfigMap is the bare `<fullname>-config`
        maps = [
            d for d in kube.of_kind(docs, "ConfigMap") if kube.name_of(d) == "healthplatform-config"
        ]
    assert len(maps) == 1, [kube.name_of(d) for d in maps]
    return dict(maps[0]["data"])


@pytest.mark.parametrize("profile", [None, *PROFILES])
def test_gateway_limits_the_auth_routes_per_client_ip(profile: str | None) -> None:
    docs = render(profile)
    policy = one(docs, "BackendTrafficPolicy")
    client = one(docs, "ClientTrafficPolicy")
    assert not crd_problems([policy, client])
    [target] = policy["spec"]["targetRefs"]
    route = kube.find(docs, "HTTPRoute", target["name"])
    assert route is not None and target["kind"] == "HTTPRoute"
    routed = {
        match["path"]["value"] for rule in route["spec"]["rules"] for match in rule["matches"]
    }
    assert {"/register", "/authenticate", "/token"} <= routed  # the auth route it targets
    [rule] = policy["spec"]["rateLimit"]["local"]["rules"]
    [selector] = rule["clientSelectors"]
    assert selector["sourceCIDR"] == {"type": "Distinct", "value": "0.0.0.0/0"}
    pattern = re.compile(selector["path"]["value"])
    assert all(pattern.search(path) for path in LIMITED)
    assert not any(pattern.search(path) for path in NOT_LIMITED)
    assert rule["limit"] == {"requests": 120, "unit": "Minute"}
    # the edge limit sits above the service's own (which answers with its Retry-After)
    defaults = AuthSettings.model_fields
    service_budget = int(defaults["rate_limit_ip_per_minute"].default) + int(
        defaults["rate_limit_ip_burst"].default
    )
    assert rule["limit"]["requests"] >= service_budget

    [gateway_ref] = client["spec"]["targetRefs"]
    assert kube.find(docs, "Gateway", gateway_ref["name"]) is not None
    assert client["spec"]["proxyProtocol"] == {"optional": True}
    assert client["spec"]["clientIPDetection"] == {"xForwardedFor": {"numTrustedHops": 0}}
    proxy = one(docs, "EnvoyProxy")
    service = proxy["spec"]["provider"]["kubernetes"]["envoyService"]
    assert service["annotations"][PROXY_PROTOCOL] == "2"

    auth = configmap_data(docs, "-auth-config")
    assert auth["HP_AUTH_TRUSTED_PROXY_HOPS"] == "1"  # Envoy appends the client address
    assert auth["HP_AUTH_USER_VERIFICATION"] == "required"


def test_switches_off_cleanly() -> None:
    docs = render(
        None,
        **{"gateway.authRateLimit.enabled": "false", "gateway.clientIP.proxyProtocol": "false"},
    )
    assert not kube.of_kind(docs, "BackendTrafficPolicy")
    client = one(docs, "ClientTrafficPolicy")
    assert "proxyProtocol" not in client["spec"]
    assert not crd_problems([client])
    service = one(docs, "EnvoyProxy")["spec"]["provider"]["kubernetes"]["envoyService"]
    assert PROXY_PROTOCOL not in service["annotations"]


def test_api_polls_the_auth_service_for_revocations() -> None:
    docs = render(None)
    app = configmap_data(docs, "platform-config")
    auth_service = kube.find(docs, "Service", "healthplatform-auth")
    assert auth_service is not None
    url = app["HP_REVOCATION_URL"]
    assert url.startswith("http://healthplatform-auth.") and url.endswith(
        "/internal/revoked-sessions"
    )
    # the public gateway does not route /internal to the auth service
    routes = [
        match["path"]["value"]
        for route in kube.of_kind(docs, "HTTPRoute")
        for rule in route["spec"]["rules"]
        for match in rule.get("matches", [])
        if "path" in match
    ]
    assert not any(p.startswith("/internal") for p in routes)
