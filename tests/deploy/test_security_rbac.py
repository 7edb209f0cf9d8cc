"""RBAC of the rendered chart: every permission listed, nothing wide.

The platform's workloads never call the Kubernetes API (every ServiceAccount and pod has
automountServiceAccountToken: false), so no workload is bound to any role. People get the
`developer` (read-only) and `operator` ClusterRoles, bound by RoleBindings in the release
namespace only. The listing below refuses wildcards, Secret access, privilege escalation,
exec/attach/port-forward, token minting and cluster-wide bindings, except what
ALLOWED_GRANTS lists (with a reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from healthplatform_deploy import helm as helm_chart
from healthplatform_deploy import kube
from tests.deploy.test_charts import ALL_FEATURES, CHART, PROFILES, builtin_problems, helm, render

pytestmark = pytest.mark.deploy

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "security"
READ = frozenset({"get", "list", "watch"})
SENSITIVE_RESOURCES = frozenset(
    {
        "secrets",
        "pods/exec",
        "pods/attach",
        "pods/portforward",
        "nodes/proxy",
        "serviceaccounts/token",
    }
    | {"certificatesigningrequests/approval", "tokenreviews", "subjectaccessreviews"}
)
ESCALATING_VERBS = frozenset({"escalate", "bind", "impersonate"})
# (role, api group, resource, verb) that may be granted although the rules above refuse
# it, with the reason. Empty: nothing needs an exception today.
ALLOWED_GRANTS: dict[tuple[str, str, str, str], str] = {}
OPERATOR_WRITES = {
    ("", "pods", "delete"),
    ("", "pods/log", "get"),
    ("apps", "deployments", "patch"),
    ("apps", "statefulsets", "patch"),
    ("batch", "jobs", "create"),
    ("batch", "jobs", "delete"),
    ("batch", "jobs", "patch"),
    ("batch", "cronjobs", "patch"),
}


@dataclass(frozen=True)
class Grant:
    subject: str  # kind/name, or "(unbound)" for a role no binding uses
    scope: str  # a namespace, or "cluster"
    role: str
    group: str
    resource: str
    verb: str

    def __str__(self) -> str:
        return f"{self.subject} @{self.scope}: {self.role} {self.verb} {self.group}/{self.resource}"


def role_rules(docs: list[kube.Doc]) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """(kind, name) of each Role/ClusterRole -> (group, resource, verb) it grants."""
    rules: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for role in kube.of_kind(docs, "Role", "ClusterRole"):
        found = rules.setdefault((role["kind"], kube.name_of(role)), [])
        for rule in role.get("rules") or []:
            for group in rule.get("apiGroups") or [""]:
                for resource in rule.get("resources") or rule.get("nonResourceURLs") or []:
                    found += [(group, resource, verb) for verb in rule.get("verbs") or []]
    return rules


def grants(docs: list[kube.Doc], namespace: str = kube.RENDER_NAMESPACE) -> list[Grant]:
    """Every permission the render grants, by subject (roles without a binding too)."""
    rules = role_rules(docs)
    bound: set[tuple[str, str]] = set()
    found: list[Grant] = []
    for binding in kube.of_kind(docs, "RoleBinding", "ClusterRoleBinding"):
        ref = binding["roleRef"]
        key = (ref["kind"], ref["name"])
        bound.add(key)
        scope = namespace if binding["kind"] == "RoleBinding" else "cluster"
        for subject in binding.get("subjects") or []:
            who = f"{subject['kind']}/{subject['name']}"
            found += [Grant(who, scope, ref["name"], *rule) for rule in rules.get(key, [])]
    for key, role_grants in rules.items():
        if key not in bound:
            found += [Grant("(unbound)", "-", key[1], *rule) for rule in role_grants]
    return found


def grant_problems(docs: list[kube.Doc]) -> list[str]:
    problems = []
    for grant in grants(docs):
        if (grant.role, grant.group, grant.resource, grant.verb) in ALLOWED_GRANTS:
            continue
        if "*" in (grant.group, grant.resource, grant.verb):
            problems.append(f"wildcard: {grant}")
        if grant.resource in SENSITIVE_RESOURCES:
            problems.append(f"sensitive resource: {grant}")
        if grant.verb in ESCALATING_VERBS:
            problems.append(f"escalation: {grant}")
        if grant.scope == "cluster":
            problems.append(f"cluster-wide binding: {grant}")
    service_accounts = {kube.name_of(sa) for sa in kube.of_kind(docs, "ServiceAccount")}
    for grant in grants(docs):
        kind, _, name = grant.subject.partition("/")
        if kind == "ServiceAccount" and name in service_accounts:
            problems.append(f"a platform workload is granted API access: {grant}")
    return problems


@pytest.mark.parametrize("profile", PROFILES)
def test_rbac_of_the_render_is_narrow(profile: str) -> None:
    docs = render(profile) + render(profile, **ALL_FEATURES)
    assert not grant_problems(docs), "\n".join(grant_problems(docs))
    assert not kube.of_kind(docs, "ClusterRoleBinding")
    listing = {(g.role, g.group, g.resource, g.verb) for g in grants(docs)}
    developer = {x[1:] for x in listing if x[0] == "healthplatform-developer"}
    operator = {x[1:] for x in listing if x[0] == "healthplatform-operator"}
    assert developer and {verb for _, _, verb in developer} == READ
    assert ("", "secrets") not in {(g, r) for g, r, _ in developer}
    assert operator == OPERATOR_WRITES


def values_file(tmp_path: Path, rbac: dict[str, object]) -> Path:
    path = tmp_path / "rbac.yaml"
    path.write_text(yaml.safe_dump({"security": {"rbac": rbac}}))
    return path


def test_people_are_bound_in_the_release_namespace_only(tmp_path: Path) -> None:
    path = values_file(
        tmp_path,
        {
            "create": True,
            "developers": [{"kind": "Group", "name": "hp-developers"}],
            "operators": [{"kind": "User", "name": "oncall@example.org"}],
        },
    )
    docs = helm_chart.render(
        CHART, [helm_chart.profile_path("always-free"), path], helm=helm("helm4")
    )
    assert not grant_problems(docs)
    assert not builtin_problems(docs, tmp_path)
    by_subject: dict[str, set[str]] = {}
    for grant in grants(docs):
        assert grant.scope == kube.RENDER_NAMESPACE
        by_subject.setdefault(grant.subject, set()).add(grant.role)
    assert by_subject == {
        "Group/hp-developers": {"healthplatform-developer"},
        "User/oncall@example.org": {"healthplatform-developer", "healthplatform-operator"},
    }


def test_roles_can_be_left_out(tmp_path: Path) -> None:
    path = values_file(tmp_path, {"create": False, "developers": [], "operators": []})
    docs = helm_chart.render(CHART, [path], helm=helm("helm4"))
    assert not kube.of_kind(docs, "ClusterRole", "RoleBinding")


def test_the_listing_refuses_wide_grants() -> None:
    docs = helm_chart.parse_documents((FIXTURES / "rbac-too-wide.yaml").read_text())
    docs.append({"kind": "ServiceAccount", "metadata": {"name": "api"}})
    text = "\n".join(grant_problems(docs))
    for expected in (
        "wildcard: Group/developers @cluster: admin-ish * */*",
        "sensitive resource: Group/developers @cluster: admin-ish get /secrets",
        "sensitive resource: Group/developers @cluster: admin-ish create /pods/exec",
        "escalation: Group/developers @cluster: admin-ish escalate",
        "cluster-wide binding",
        "a platform workload is granted API access: ServiceAccount/api",
    ):
        assert expected in text, text


def test_workloads_get_no_service_account_token() -> None:
    docs = render("paid-small", **ALL_FEATURES)
    pods = kube.pod_templates(docs)
    assert pods
    for pt in pods:
        assert pt.spec["automountServiceAccountToken"] is False, pt.ref
    for sa in kube.of_kind(docs, "ServiceAccount"):
        assert sa["automountServiceAccountToken"] is False, kube.ref(sa)
