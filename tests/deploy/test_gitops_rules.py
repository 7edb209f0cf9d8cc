"""Every check of test_gitops.py fails on a deliberately broken fixture.

test_gitops.py runs the checks on the real environments, where they must pass; here each
fixture in tests/deploy/fixtures/gitops/ breaks one rule and the check must name the
breakage. Several are the previous attempt's failures (values files of another chart, a
staging values file that did not exist, namespaces the project did not allow).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from healthplatform_deploy import helm as helm_chart
from tests.deploy import test_gitops as g

pytestmark = pytest.mark.deploy

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "gitops"

# fixture -> (check, substrings its problems must contain)
CASES: dict[str, tuple[Callable[[g.GitOps], list[str]], tuple[str, ...]]] = {
    "application-schema-invalid": (
        g.check_schemas,
        ("Application/broken", "'autoSync' was unexpected", "'yes' is not of type 'boolean'"),
    ),
    "chart-unpinned": (
        g.check_sources,
        (
            "keda targetRevision '*' is not an exact version",
            "cert-manager targetRevision 'HEAD' is not an exact version",
            "at 'feature/x', not one of ['main']",
        ),
    ),
    "values-file-missing": (
        g.check_values_files,
        (
            "hp-data: values file deploy/profiles/staging.yaml is missing",
            "keda: $values/deploy/argocd/system/keda/values.yaml: no source has `ref: values`",
        ),
    ),
    "values-wrong-chart": (g.check_renders, ("hp-data:", "additional properties", "crds")),
    "project-namespace-not-allowed": (
        g.check_projects,
        (
            "AppProject/system: namespaces needed but not allowed: ['kube-system']",
            "AppProject/system: namespaces allowed but unused: ['keda']",
        ),
    ),
    "project-cluster-kind-missing": (
        g.check_projects,
        (
            "cluster-scoped kinds needed but not allowed",
            "('cert-manager.io', 'ClusterIssuer')",
            "('gateway.networking.k8s.io', 'GatewayClass')",
        ),
    ),
    "project-too-broad": (
        g.check_projects,
        (
            "namespaces allowed but unused: ['*']",
            "cluster-scoped kinds allowed but unused: [('*', '*')]",
            "source repositories allowed but unused: ['*']",
        ),
    ),
    "wave-operator-after-resources": (
        g.check_waves,
        ("hp-data (wave 10) uses postgresql.cnpg.io, provided by cloudnative-pg in wave 20",),
    ),
    "sync-policy-manual": (
        g.check_sync_policies,
        (
            "keda: sync is not automated",
            "keda: no retry with backoff",
            "keda: installs CRDs without ServerSideApply=true",
            "cert-manager: selfHeal is off",
            "cert-manager: prune is off",
            "cert-manager: ignoreDifferences without RespectIgnoreDifferences=true",
        ),
    ),
    "replicas-not-ignored": (
        g.check_ignore_differences,
        (
            "Deployment/healthplatform-api is scaled by HorizontalPodAutoscaler",
            "Deployment/healthplatform-etl-worker is scaled by ScaledObject",
            "names Deployment/healthplatform-worker, which is not rendered",
        ),
    ),
}


def load(name: str) -> g.GitOps:
    return g.GitOps(helm_chart.parse_documents((FIXTURES / f"{name}.yaml").read_text()))


@pytest.mark.parametrize("fixture", sorted(CASES))
def test_check_fails_on_broken_fixture(fixture: str) -> None:
    check, expected = CASES[fixture]
    problems = check(load(fixture))
    text = "\n".join(problems)
    assert problems, f"{check.__name__} found nothing wrong in {fixture}"
    for substring in expected:
        assert substring in text, f"{substring!r} not in:\n{text}"


def test_every_fixture_is_used() -> None:
    files = {p.stem for p in FIXTURES.glob("*.yaml")}
    assert files == set(CASES) | {"env-leak", "cluster-values-missing-keys"}


def test_environment_leak_is_found() -> None:
    problems = g.check_environment(load("env-leak"), "dev")
    assert problems == ["hp-data: refers to envs/always-free/"]


def test_cluster_values_without_terraforms_keys_fail() -> None:
    problems = g.check_cluster_values(FIXTURES / "cluster-values-missing-keys.yaml")
    assert problems and "capacity" in problems[0] and "loadBalancer" in problems[0]


def test_argocd_over_its_reservation_fails() -> None:
    problems = "\n".join(g.check_argocd_bootstrap(FIXTURES / "argocd-over-reservation"))
    for substring in (
        "argocd-application-controller: requests/limits (250, 512, 1000, 1024) are not the "
        "documented (25, 192, 500, 384)",
        "argocd-redis/redis: no limits",
        "argocd-repo-server/argocd-repo-server: no requests",
        "argocd-applicationset-controller is not scaled to 0",
        "argocd-cm has no health check for Applications",
    ):
        assert substring in problems, f"{substring!r} not in:\n{problems}"


def test_argocd_pinned_by_tag_fails() -> None:
    problems = "\n".join(g.check_argocd_bootstrap(FIXTURES / "argocd-pinned-by-tag"))
    assert "not core-install.yaml pinned by a 40-hex commit" in problems
    assert "no offline stand-in for remote resource" in problems
