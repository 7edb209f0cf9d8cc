"""Every rule of healthplatform_deploy.rules fails on a deliberately broken fixture.

tests/deploy/test_charts.py runs the same rules on the real renders, where they must pass;
here each fixture in tests/deploy/fixtures/charts/ breaks one rule and the rule must name
the breakage. Schema validation (kubernetes-validate, CRD schemas) is shown failing too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from healthplatform_deploy import context as render_context
from healthplatform_deploy import helm as helm_chart
from healthplatform_deploy import kube
from healthplatform_deploy import rules as deploy_rules
from tests.deploy.test_charts import builtin_problems, crd_problems

pytestmark = pytest.mark.deploy

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "charts"
EXTERNAL = {"db-app": {"password"}, "valkey-a": {"password"}, "valkey-b": {"password"}}

# fixture -> (rule, substrings its problems must contain)
CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "service-selects-nothing": ("selectors", ("matches no pod template",)),
    "service-selects-two-workloads": ("selectors", ("matches several workloads",)),
    "pdb-selects-nothing": ("selectors", ("PodDisruptionBudget/api: selector matches no pod",)),
    "servicemonitor-selects-nothing": ("selectors", ("selector matches no Service",)),
    "networkpolicy-namespace-label": ("selectors", ("namespaceSelector label 'name'",)),
    "networkpolicy-selects-nothing": (
        "selectors",
        ("podSelector matches no pod template", "peer podSelector"),
    ),
    "secret-missing": ("references", ("Secret 's3-credentials' is neither rendered",)),
    "secret-key-missing": ("references", ("has no key 'connection-string'",)),
    "configmap-missing": ("references", ("ConfigMap 'healthplatform-settings' is neither",)),
    "service-targetport-missing": ("ports", ("targetPort 'web' is not a port",)),
    "probe-port-missing": ("ports", ("readinessProbe port 8080",)),
    "route-backend-port-missing": ("ports", ("Service 'api' has no port 80",)),
    "servicemonitor-port-missing": ("ports", ("port 'metrics' is not a port of Service/api",)),
    "hostname-unknown-service": ("hostnames", ("is not a Service ('valkey-master')",)),
    "hostname-wrong-port": ("hostnames", ("uses port 8000, Service auth has [8001]",)),
    "env-var-order": ("env-order", ("uses $(DATABASE_PASSWORD) before DATABASE_PASSWORD",)),
    "settings-unknown-variable": (
        "settings",
        (
            "HP_DB_URL is not a field of Settings",
            "DB_PASSWORD is neither a setting",
            "HP_OBJECT_STORE must be s3",
            "HP_EVENTS_BACKEND must be rabbitmq",
            "HP_DATABASE_URL must be a postgresql+asyncpg:// URL",
        ),
    ),
    "settings-not-production": (
        "settings",
        ("does not load into Settings", "etl_concurrency"),
    ),
    "jwt-issuer-mismatch": (
        "jwt",
        ("JWT issuers disagree", "is not the auth service"),
    ),
    "credentials-wrong-secret": ("credentials", ("('valkey-a', 'password'), but the pods",)),
    "pod-security-no-seccomp": (
        "pod-security",
        (
            "seccompProfile is None",
            "allowPrivilegeEscalation is not false",
            "capabilities do not drop ALL",
            "readOnlyRootFilesystem is not true",
            "automountServiceAccountToken is not false",
            "runs as the default ServiceAccount",
        ),
    ),
    "pod-security-root-init-container": (
        "pod-security",
        (
            "chown: runAsUser is 0",
            "chown: runAsNonRoot is not true",
            "adds capabilities",
            "hostPath",
        ),
    ),
    "resources-missing-limits": (
        "resources",
        ("api: no cpu limit", "api: no memory limit", "Cluster/db: no cpu request"),
    ),
    "image-unpinned": ("images", ("uses the `latest` tag", "has no tag")),
    "serviceaccount-shared": (
        "service-accounts",
        ("is shared by", "ServiceAccount/platform: automountServiceAccountToken"),
    ),
    "keda-fallback-with-cpu": (
        "autoscaling",
        ("fallback cannot be combined", "sets spec.replicas although ScaledObject/etl"),
    ),
    "keda-queue-mismatch": (
        "autoscaling",
        ("watches queue 'etl-uploads'", "TriggerAuthentication 'rabbitmq-auth' does not exist"),
    ),
    "hpa-target-missing": (
        "autoscaling",
        ("scaleTargetRef", "scales on CPU but Deployment/api api has no CPU request"),
    ),
    "pdb-blocks-eviction": ("autoscaling", ("no eviction is ever allowed",)),
    "hook-uses-release-configmap": (
        "hooks",
        ("uses ConfigMap 'config', created after", "uses ServiceAccount 'migrate', created after"),
    ),
    "labels-selector-with-version": (
        "labels",
        ("selector uses more than name+instance", "missing labels"),
    ),
    "namespace-hardcoded": ("namespaces", ("namespace 'healthplatform' is hard-coded",)),
    "gateway-listener-missing": (
        "gateway",
        (
            "has no listener 'websecure'",
            "HTTPRouteFilter/not-found does not exist",
            "GatewayClass 'envoy'",
        ),
    ),
    "load-balancer-annotations": (
        "gateway",
        ("load-balancer-type should be 'lb'", "without an NSG", "flex-max is missing"),
    ),
}


def load(name: str) -> list[kube.Doc]:
    return helm_chart.parse_documents((FIXTURES / f"{name}.yaml").read_text())


def run(rule: str, docs: list[kube.Doc]) -> list[str]:
    ctx = render_context.Context(docs, EXTERNAL)
    if rule in deploy_rules.CROSS_REFERENCE_CHECKS:
        return deploy_rules.CROSS_REFERENCE_CHECKS[rule](docs, ctx)
    return deploy_rules.POD_CHECKS[rule](docs)


@pytest.mark.parametrize("fixture", sorted(CASES))
def test_rule_fails_on_broken_fixture(fixture: str) -> None:
    rule, expected = CASES[fixture]
    problems = run(rule, load(fixture))
    text = "\n".join(problems)
    missing = [e for e in expected if e not in text]
    assert not missing, f"{rule} on {fixture}: expected {missing} in:\n{text}"


def test_every_rule_has_a_broken_fixture() -> None:
    rules = set(deploy_rules.CROSS_REFERENCE_CHECKS) | set(deploy_rules.POD_CHECKS)
    assert rules == {rule for rule, _ in CASES.values()}
    on_disk = {p.stem for p in FIXTURES.glob("*.yaml")}
    assert set(CASES) <= on_disk


def test_builtin_schema_validation_fails_on_broken_fixture(tmp_path: Path) -> None:
    problems = builtin_problems(load("builtin-schema-invalid"), tmp_path)
    text = "\n".join(problems)
    assert "targetPortt" in text or "eighty" in text, text


def test_crd_schema_validation_fails_on_broken_fixture() -> None:
    text = "\n".join(crd_problems(load("crd-schema-invalid")))
    assert "ScaledObject/etl" in text and "maxReplicas" in text, text
    assert "Cluster/db spec/instances" in text, text


def test_cnpg_and_cert_manager_objects_are_derived() -> None:
    docs = [
        {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "db"}},
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "c"},
            "spec": {"secretName": "tls"},
        },
    ]
    made = {kube.ref(d) for d in render_context.operator_objects(docs)}
    assert {"Service/db-rw", "Service/db-ro", "Service/db-r", "Secret/db-app", "Secret/tls"} <= made
    ctx = render_context.Context(docs)
    assert ctx.secret_keys("db-app") == set(kube.CNPG_APP_KEYS)


def test_env_expansion_follows_kubernetes() -> None:
    ctx = render_context.Context([])
    container = {
        "name": "c",
        "env": [
            {"name": "A", "value": "x"},
            {"name": "B", "value": "$(A)-$$(A)-$(C)"},
            {"name": "C", "value": "late"},
        ],
        "args": ["$(B)", "$(MISSING)"],
    }
    env, problems = render_context.container_env(container, ctx)
    assert env["B"].value == "x-$(A)-$(C)"
    assert env["A"].used
    assert not env["C"].used
    assert any("B uses $(C) before C" in p for p in problems)
    assert any("args uses $(MISSING)" in p for p in problems)
