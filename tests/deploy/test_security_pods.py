"""Pod Security "restricted" on every workload kind, and the namespace that enforces it.

healthplatform_deploy.pod_security.check_pod_security runs on every pod template of every render
(tests/deploy/test_charts.py). Here: it reaches every kind (Deployment, StatefulSet, Job,
CronJob, DaemonSet) and init containers, the restricted fields it does not look at are
checked too (sysctls, SELinux, procMount, AppArmor, ephemeral containers), and the
optional Namespace object carries the Pod Security labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from healthplatform_deploy import helm as helm_chart
from healthplatform_deploy import kube, pod_security
from healthplatform_deploy import workloads as workload_rules
from tests.deploy.test_charts import ALL_FEATURES, CHART, PROFILES, builtin_problems, helm, render

pytestmark = pytest.mark.deploy

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "security"
# Pod Security Standards, restricted: sysctls allowed without a policy ("safe" set).
SAFE_SYSCTLS = frozenset(
    {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies"}
    | {"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"}
    | {"net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time"}
    | {"net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
)
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)


def restricted_extras(pt: kube.PodTemplate) -> list[str]:
    """The restricted/baseline fields check_pod_security leaves out."""
    problems = []
    spec, where = pt.spec, pt.ref
    pod_sc = spec.get("securityContext") or {}
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl["name"] not in SAFE_SYSCTLS:
            problems.append(f"{where}: sysctl {sysctl['name']}")
    if spec.get("ephemeralContainers"):
        problems.append(f"{where}: ephemeral containers in the template")
    contexts: list[tuple[str, dict[str, Any]]] = [(where, pod_sc)]
    contexts += [(f"{where} {c['name']}", c.get("securityContext") or {}) for c in pt.containers()]
    for name, sc in contexts:
        selinux = sc.get("seLinuxOptions") or {}
        if selinux.get("user") or selinux.get("role"):
            problems.append(f"{name}: seLinuxOptions user/role")
        if selinux.get("type", "") not in SELINUX_TYPES:
            problems.append(f"{name}: seLinuxOptions type {selinux['type']}")
        if sc.get("procMount", "Default") != "Default":
            problems.append(f"{name}: procMount {sc['procMount']}")
        if (sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
            problems.append(f"{name}: appArmorProfile Unconfined")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            problems.append(f"{name}: windows hostProcess")
    return problems


def all_renders() -> list[kube.Doc]:
    docs: list[kube.Doc] = []
    for profile in PROFILES:
        docs += render(profile) + render(profile, **ALL_FEATURES)
    return docs


def test_every_kind_and_init_container_is_checked() -> None:
    docs = all_renders()
    kinds = {pt.owner["kind"] for pt in kube.pod_templates(docs)}
    assert kinds == {"Deployment", "StatefulSet", "Job", "CronJob"}
    with_init = {pt.ref for pt in kube.pod_templates(docs) if pt.spec.get("initContainers")}
    assert {"Job/healthplatform-migrate-auth", "StatefulSet/healthplatform-s3"} <= with_init
    assert not pod_security.check_pod_security(docs)
    assert not [p for pt in kube.pod_templates(docs) for p in restricted_extras(pt)]


def test_the_checks_fail_on_every_kind() -> None:
    docs = helm_chart.parse_documents((FIXTURES / "pod-security-every-kind.yaml").read_text())
    text = "\n".join(pod_security.check_pod_security(docs))
    for expected in (
        "Job/migrate wait: runAsUser is 0",
        "Job/migrate wait: allowPrivilegeEscalation is not false",
        "CronJob/maintain maintain: seccompProfile is 'Unconfined'",
        "StatefulSet/broker chown: privileged",
        "StatefulSet/broker chown: adds capabilities",
        "StatefulSet/broker broker: hostPort 5672",
        "DaemonSet/agent: hostNetwork is set",
        "DaemonSet/agent: volume logs of type ['hostPath'] is not allowed",
    ):
        assert expected in text, text
    extras = "\n".join(p for pt in kube.pod_templates(docs) for p in restricted_extras(pt))
    for expected in (
        "CronJob/maintain: sysctl kernel.msgmax",
        "CronJob/maintain maintain: procMount Unmasked",
        "StatefulSet/broker: seLinuxOptions user/role",
        "StatefulSet/broker: seLinuxOptions type spc_t",
        "StatefulSet/broker broker: appArmorProfile Unconfined",
    ):
        assert expected in extras, extras


def namespace_values(tmp_path: Path, level: str) -> Path:
    path = tmp_path / "ns.yaml"
    path.write_text(
        yaml.safe_dump({"security": {"namespaces": {"create": True, "podSecurity": level}}})
    )
    return path


@pytest.mark.parametrize("level", ["restricted", "baseline"])
def test_the_namespace_object_enforces_pod_security(tmp_path: Path, level: str) -> None:
    path = namespace_values(tmp_path, level)
    docs = helm_chart.render(
        CHART, [helm_chart.profile_path("always-free"), path], helm=helm("helm4")
    )
    (namespace,) = kube.of_kind(docs, "Namespace")
    labels = kube.labels_of(namespace)
    assert kube.name_of(namespace) == kube.RENDER_NAMESPACE
    assert labels["pod-security.kubernetes.io/enforce"] == level
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels["healthplatform.io/layer"] == "data"
    assert not builtin_problems([namespace], tmp_path)
    assert not workload_rules.check_namespaces(docs)
    assert not kube.of_kind(render("always-free"), "Namespace"), "off by default"
