"""The Kubernetes side of the backups (docs/backup.md, "What the chart schedules").

* every new object (three backup CronJobs with their ServiceAccounts, one barman-cloud
  ObjectStore and one ScheduledBackup per CloudNativePG cluster, the WAL archiver and
  `archive_timeout` of each Cluster) renders in every profile, with and without the optional
  features, in the layer that owns it, and validates against its schema (kubernetes-validate,
  the pinned CRD schemas, tests/artifacts.lock.json);
* the backup rules of healthplatform_deploy.backups pass on every render: schedules,
  CLI commands, no restore on apply, the jobs (no overlap, Forbid, deadlines), point in time;
* the commands the CronJobs run exist in the CLI (`healthplatform backup --help` through
  typer's CliRunner, and the CLI's own parser), their env vars are settings
  (check_settings covers CronJobs: Settings, AuthSettings, BackupSettings);
* the backup pods are in the reachability model and reach exactly their flows;
* the recovery bootstrap is off by default, is only ever a Cluster bootstrap (no Job), and
  the values the runbooks show render the recovery Cluster of docs/backup.md;
* Velero's schedule (deploy/argocd/platform/velero) builds valid Schedules with file-system
  backup and the volume policy, never copying the sealing key;
* resources stay within the "backups (#11)" reservations and the profiles still fit;
* each rule fails on a broken fixture in tests/deploy/fixtures/backups/.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from healthplatform.cli import app
from healthplatform.ops.backups.settings import BackupSettings
from healthplatform_deploy import (
    app_settings,
    backup_schedules,
    capacity,
    capacity_report,
    kube,
    network_policy,
    network_world,
    pod_security,
    reachability,
)
from healthplatform_deploy import backups as backup_rules
from healthplatform_deploy import context as render_context
from healthplatform_deploy import helm as helm_chart
from healthplatform_deploy import rules as deploy_rules
from healthplatform_deploy import velero as velero_rules
from healthplatform_deploy import workloads as workload_rules
from tests.deploy import test_gitops as g
from tests.deploy.test_charts import (
    ALL_FEATURES,
    CHART,
    PROFILES,
    REPO,
    builtin_problems,
    context,
    crd_problems,
    helm,
    render,
)

pytestmark = pytest.mark.deploy

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "backups"
FEATURES: dict[str, dict[str, str]] = {"profile": {}, "all-features": ALL_FEATURES}
CASES = [(p, f) for p in PROFILES for f in FEATURES]
NS = kube.RENDER_NAMESPACE
CRONJOBS = {
    "daily": "healthplatform-backup-daily",
    "weekly": "healthplatform-backup-weekly",
    "verify": "healthplatform-backup-verify",
}
ARGS = {
    "daily": ["backup", "create", "--database", "all", "--kind", "daily"],
    "weekly": ["backup", "create", "--database", "all", "--kind", "weekly"],
    "verify": ["backup", "verify", "--database", "all"],
}
CLUSTERS = ("healthplatform-health-db", "healthplatform-auth-db")
VELERO = REPO / "deploy" / "argocd" / "platform" / "velero"
BARMAN = REPO / "deploy" / "argocd" / "system" / "barman-cloud"
# Namespaces Velero backs up (docs/backup.md): what Git does not hold lives there.
VELERO_NAMESPACES = {
    "healthplatform",
    "argocd",
    "cert-manager",
    "envoy-gateway-system",
    "monitoring",
}
RECOVERY = {
    "data.postgres.health.recovery.enabled": "true",
    "data.postgres.health.recovery.targetTime": "2026-11-26T09:55:00Z",
    "data.postgres.health.backupServerName": "healthplatform-health-db-r1",
    "data.postgres.auth.recovery.enabled": "true",
    "data.postgres.auth.backupServerName": "healthplatform-auth-db-r1",
}


def identities(docs: list[kube.Doc]) -> set[tuple[str, str]]:
    return {(str(d["kind"]), kube.name_of(d)) for d in docs}


def cronjob(docs: list[kube.Doc], kind: str) -> kube.Doc:
    found = kube.find(docs, "CronJob", CRONJOBS[kind])
    assert found is not None, kind
    return found


def container_of(cron: kube.Doc) -> kube.Doc:
    pod: kube.Doc = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return dict(container)


# --------------------------------------------------------------------------------------
# Rendering: every object, every profile, the right layer, valid schemas
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("profile", "features"), CASES)
def test_every_new_object_renders_in_every_profile(profile: str, features: str) -> None:
    docs = render(profile, **FEATURES[features])
    names = identities(docs)
    for kind, name in CRONJOBS.items():
        assert ("CronJob", name) in names and ("ServiceAccount", name) in names, kind
        pod = cronjob(docs, kind)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == name, "each CronJob has its own ServiceAccount"
        assert container_of(cronjob(docs, kind))["args"] == ARGS[kind]
    for cluster in CLUSTERS:
        assert ("ObjectStore", cluster) in names
        assert ("ScheduledBackup", f"{cluster}-base-backup") in names
        doc = kube.find(docs, "Cluster", cluster)
        assert doc is not None
        (plugin,) = doc["spec"]["plugins"]
        assert plugin["name"] == backup_rules.BARMAN_PLUGIN and plugin["isWALArchiver"] is True
        assert plugin["parameters"] == {"barmanObjectName": cluster, "serverName": cluster}
        assert doc["spec"]["postgresql"]["parameters"]["archive_timeout"] == "5min"
    new = [d for d in docs if (d["kind"], kube.name_of(d)) in _new_objects(docs)]
    assert not pod_security.check_pod_security(new), "restricted Pod Security on every new pod"
    assert not pod_security.check_service_accounts(new)
    assert not pod_security.check_resources(new)
    assert not workload_rules.check_labels(new)


def _new_objects(docs: list[kube.Doc]) -> set[tuple[str, str]]:
    found = {("CronJob", n) for n in CRONJOBS.values()} | {
        ("ServiceAccount", n) for n in CRONJOBS.values()
    }
    for cluster in CLUSTERS:
        found |= {("ObjectStore", cluster), ("ScheduledBackup", f"{cluster}-base-backup")}
        found.add(("Cluster", cluster))
    return found & identities(docs)


@pytest.mark.parametrize("profile", PROFILES)
def test_backup_objects_belong_to_their_layers(profile: str) -> None:
    layers = {
        layer: identities(
            render(
                profile,
                **{f"layers.{x}": str(x == layer).lower() for x in ("data", "apps", "gateway")},
            )
        )
        for layer in ("data", "apps", "gateway")
    }
    for name in CRONJOBS.values():
        assert ("CronJob", name) in layers["apps"]
    for cluster in CLUSTERS:
        assert ("ObjectStore", cluster) in layers["data"]
        assert ("ScheduledBackup", f"{cluster}-base-backup") in layers["data"]


def test_the_relay_reads_the_backups_bucket() -> None:
    docs = render("always-free")
    ctx = context("always-free", docs)
    apps, _ = app_settings.app_containers(docs, ctx)
    buckets = {a.role: a.env["HP_BACKUP_BUCKET"].value for a in apps if "HP_BACKUP_BUCKET" in a.env}
    assert buckets == {"relay": "hp-backups", "backup": "hp-backups", "backup-verify": "hp-backups"}


def test_every_app_that_erases_or_restores_reads_the_erasure_log_bucket() -> None:
    """The API writes the log (DELETE /v1/me/data, DELETE /account); backup jobs apply it
    after a restore. Each gets the bucket Terraform made for it, not the lake."""
    docs = render("always-free")
    apps, _ = app_settings.app_containers(docs, context("always-free", docs))
    buckets = {
        a.role: a.env["HP_ERASURE_LOG_BUCKET"].value
        for a in apps
        if "HP_ERASURE_LOG_BUCKET" in a.env
    }
    assert {"api", "backup"} <= set(buckets), buckets
    assert set(buckets.values()) == {"hp-erasure-log"}


def test_new_objects_are_schema_valid(tmp_path: Path) -> None:
    docs: list[kube.Doc] = []
    for profile, features in CASES:
        rendered = render(profile, **FEATURES[features])
        docs += [d for d in rendered if (d["kind"], kube.name_of(d)) in _new_objects(rendered)]
    recovered = render("always-free", **RECOVERY)
    docs += kube.of_kind(recovered, "Cluster")
    kinds = {d["kind"] for d in docs}
    assert kinds == {"CronJob", "ServiceAccount", "ObjectStore", "ScheduledBackup", "Cluster"}
    assert not crd_problems(docs)
    assert not builtin_problems(docs, tmp_path)


# --------------------------------------------------------------------------------------
# The backup rules on every render
# --------------------------------------------------------------------------------------

VARIANTS: dict[str, dict[str, str]] = {
    "default": {},
    "all-features": ALL_FEATURES,
    "recovery": RECOVERY,
    "jobs-off": {"backups.jobs.enabled": "false"},
    "point-in-time-off": {"backups.pointInTime.enabled": "false"},
    "apps-layer": {"layers.data": "false", "layers.gateway": "false"},
    "data-layer": {"layers.apps": "false", "layers.gateway": "false"},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("profile", PROFILES)
def test_backup_rules_pass_on_every_render(profile: str, variant: str) -> None:
    docs = render(profile, **VARIANTS[variant])
    results = backup_rules.run_all(docs, context(profile, docs))
    assert not {k: v for k, v in results.items() if v}, results
    if not variant.endswith("-layer"):  # one layer alone references the others' objects
        general = deploy_rules.run_all(docs, context(profile, docs))
        assert not {k: v for k, v in general.items() if v}, general


def test_switches_remove_what_they_say() -> None:
    off = identities(render("always-free", **{"backups.jobs.enabled": "false"}))
    assert not {n for k, n in off if k == "CronJob" and "backup" in n}
    assert ("NetworkPolicy", "healthplatform-allow-backup") not in off
    pit_off = render("always-free", **{"backups.pointInTime.enabled": "false"})
    assert not kube.of_kind(pit_off, "ObjectStore", "ScheduledBackup")
    for cluster in kube.of_kind(pit_off, "Cluster"):
        assert "plugins" not in cluster["spec"]
        assert "archive_timeout" not in cluster["spec"]["postgresql"]["parameters"]


def test_cronjob_schedules_are_valid_and_never_overlap() -> None:
    docs = render("always-free")
    values = helm_chart.merged_values(CHART, [helm_chart.profile_path("always-free")])
    jobs = values["backups"]["jobs"]
    fires = {}
    for kind in CRONJOBS:
        spec = cronjob(docs, kind)["spec"]
        assert spec["schedule"] == jobs["schedules"][kind]
        assert spec["timeZone"] == "Etc/UTC"
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["successfulJobsHistoryLimit"] == 1 and spec["failedJobsHistoryLimit"] == 3
        job = spec["jobTemplate"]["spec"]
        assert job["backoffLimit"] == 1 and job["activeDeadlineSeconds"] == 3600
        assert job["template"]["spec"]["restartPolicy"] == "Never"
        weekly = backup_schedules.parse_cron(spec["schedule"]).weekly_minutes()
        assert weekly is not None
        fires[kind] = weekly
    monday = 1440
    assert monday + 2 * 60 + 15 in fires["daily"] and 2 * 60 + 15 not in fires["daily"]
    assert fires["weekly"] == {2 * 60 + 15}, "Sunday 02:15"
    assert len(fires["verify"]) == 7 and 3 * 60 + 45 in fires["verify"]
    assert not backup_rules.check_backup_jobs(docs, context("always-free", docs))
    for scheduled in kube.of_kind(docs, "ScheduledBackup"):
        assert backup_schedules.parse_cron(scheduled["spec"]["schedule"], seconds=True).fields[
            0
        ] == {0}


def test_cron_parser_follows_robfig() -> None:
    assert backup_schedules.parse_cron("*/15 2 * * MON-FRI").fields[0] == {0, 15, 30, 45}
    assert backup_schedules.parse_cron("@daily").weekly_minutes() == {d * 1440 for d in range(7)}
    assert backup_schedules.parse_cron("0 0 1 * *").weekly_minutes() is None
    for bad in ("15 2 * * 7", "60 * * * *", "* * *", "5-1 * * * *", "TZ=UTC 0 0 * * *"):
        with pytest.raises(ValueError):
            backup_schedules.parse_cron(bad)
    assert [
        set(f) for f in backup_schedules.parse_cron("0 30 1 * * 0", seconds=True).fields[:3]
    ] == [
        {0},
        {30},
        {1},
    ]


# --------------------------------------------------------------------------------------
# Commands and settings
# --------------------------------------------------------------------------------------


def help_text(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"}, terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def test_commands_exist_in_the_cli() -> None:
    backup_help = help_text("backup")
    listed = set(re.findall(r"^\W*(\w+)\s{2,}\S", backup_help.split("Commands", 1)[1], re.M))
    docs = render("always-free")
    for kind in CRONJOBS:
        args = container_of(cronjob(docs, kind))["args"]
        assert args[0] == "backup" and args[1] in listed, (args, listed)
        text = help_text(*args[:2])
        for flag, value in zip(args[2::2], args[3::2], strict=True):
            assert flag in text, (flag, text)
            choices = re.search(re.escape(flag) + r"\s+\S*<([\w|]+)>", text)
            assert choices and value in choices.group(1).split("|"), (flag, value, text)
        assert backup_schedules.cli_problem(args) is None
    assert backup_schedules.cli_problem(["backup", "create", "--kind", "monthly"])
    assert "has no command 'snapshot'" in str(backup_schedules.cli_problem(["backup", "snapshot"]))


def test_env_vars_are_real_settings() -> None:
    """check_settings covers the CronJobs (roles backup, backup-verify): every HP_* variable
    is a field of Settings, AuthSettings or BackupSettings, and the env loads into them."""
    docs = render("always-free")
    ctx = context("always-free", docs)
    apps, _ = app_settings.app_containers(docs, ctx)
    roles = {a.where.split()[0]: a.role for a in apps}
    assert {roles[f"CronJob/{n}"] for n in CRONJOBS.values()} == {"backup", "backup-verify"}
    assert not app_settings.check_settings(docs, ctx)
    from healthplatform.auth.settings import AuthSettings
    from healthplatform.settings import Settings

    for app_container in apps:
        if app_container.role not in app_settings.BACKUP_ROLES:
            continue
        for name in app_container.env:
            if name.startswith("HP_BACKUP_"):
                assert name[10:].lower() in BackupSettings.model_fields, name
            elif name.startswith("HP_AUTH_"):
                assert name[8:].lower() in AuthSettings.model_fields, name
            elif name.startswith("HP_"):
                assert name[3:].lower() in Settings.model_fields, name
        env = {k: v.value for k, v in app_container.env.items() if k.startswith("HP_BACKUP_")}
        loaded = BackupSettings.model_validate({k[10:].lower(): v for k, v in env.items()})
        assert (loaded.bucket, loaded.keep_daily, loaded.keep_weekly) == ("hp-backups", 7, 4)
        assert "HP_AUTH_KEY_ENCRYPTION_KEY" not in app_container.env
        assert "HP_AUTH_ENVIRONMENT" not in app_container.env, "not the auth ConfigMap"
        assert app_container.env["HP_AUTH_DATA_DIR"].value == "/tmp/healthplatform"


# --------------------------------------------------------------------------------------
# Reachability
# --------------------------------------------------------------------------------------


@functools.cache
def world(profile: str, features: str) -> network_policy.Cluster:
    values = helm_chart.merged_values(CHART, [helm_chart.profile_path(profile)])
    for key, value in FEATURES[features].items():
        node = values
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = {"true": True, "false": False}.get(value, value)
    return network_world.platform_world(render(profile, **FEATURES[features]), values, NS)


@pytest.mark.parametrize(("profile", "features"), CASES)
def test_backup_pods_reach_exactly_their_flows(profile: str, features: str) -> None:
    cluster = world(profile, features)
    store = "s3" if features == "all-features" else "object-storage"
    for party, count in (("backup", 2), ("backup-verify", 1)):
        pods = cluster.of_party(party)
        assert len(pods) == count, party
        reached = {
            (
                target.party or ("outside" if target.namespace is None else target.name),
                f"{port.number}/{port.protocol}",
            )
            for pod in pods
            for target in cluster.endpoints
            if target not in pods
            for port in target.ports
            if cluster.allowed(pod, target, port.number, port.protocol)
        }
        expected = {("health-db", "5432/TCP"), ("auth-db", "5432/TCP")}
        expected |= {("kube-dns", "53/UDP"), ("kube-dns", "53/TCP")}
        expected |= {("s3", "8333/TCP")} if store == "s3" else {("outside", "443/TCP")}
        assert reached == expected, (party, reached ^ expected)
        metadata = [ep for ep in cluster.endpoints if str(ep.ip) == network_world.METADATA_PROBE]
        assert not reachability.connections_between(cluster, pods, metadata)


# --------------------------------------------------------------------------------------
# Recovery: off by default, never a Job, the runbooks' values render
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("profile", "features"), CASES)
def test_recovery_is_off_by_default(profile: str, features: str) -> None:
    values = helm_chart.merged_values(CHART, [helm_chart.profile_path(profile)])
    for db in ("health", "auth"):
        assert values["data"]["postgres"][db]["recovery"]["enabled"] is False
    docs = render(profile, **FEATURES[features])
    for cluster in kube.of_kind(docs, "Cluster"):
        assert set(cluster["spec"]["bootstrap"]) == {"initdb"}, kube.ref(cluster)
        assert "externalClusters" not in cluster["spec"]
    assert not backup_schedules.check_no_restore(docs, context(profile, docs))
    workloads = [pt for pt in kube.pod_templates(docs) if pt.owner["kind"] in ("Job", "CronJob")]
    assert len(workloads) >= 5
    for pt in workloads:
        for container in pt.containers():
            assert "restore" not in " ".join(backup_schedules._command_line(container)).lower(), (
                pt.ref
            )


def test_recovery_is_only_a_cluster_bootstrap() -> None:
    """Turning recovery on adds no Job, hook or CronJob: only the Clusters change, and
    CloudNativePG reads `bootstrap` only when a Cluster is created."""
    default, recovered = render("always-free"), render("always-free", **RECOVERY)
    assert identities(default) == identities(recovered)
    changed = {
        (d["kind"], kube.name_of(d))
        for d in recovered
        if d != kube.find(default, str(d["kind"]), kube.name_of(d))
    }
    assert changed == {("Cluster", c) for c in CLUSTERS}
    assert not backup_schedules.check_no_restore(recovered, context("always-free", recovered))
    health = kube.find(recovered, "Cluster", "healthplatform-health-db")
    assert health is not None
    spec = health["spec"]
    assert spec["bootstrap"] == {
        "recovery": {
            "source": "health-origin",
            "database": "health",
            "owner": "health",
            "recoveryTarget": {"targetTime": "2026-11-26T09:55:00Z"},
        }
    }
    assert spec["externalClusters"] == [
        {
            "name": "health-origin",
            "plugin": {
                "name": backup_rules.BARMAN_PLUGIN,
                "parameters": {
                    "barmanObjectName": "healthplatform-health-db",
                    "serverName": "healthplatform-health-db",
                },
            },
        }
    ]
    assert spec["plugins"][0]["parameters"]["serverName"] == "healthplatform-health-db-r1"
    auth = kube.find(recovered, "Cluster", "healthplatform-auth-db")
    assert auth is not None and "recoveryTarget" not in auth["spec"]["bootstrap"]["recovery"]


def runbook_values() -> list[tuple[str, dict[str, Any]]]:
    """The YAML values blocks of the runbooks that set `recovery`."""
    found = []
    for path in sorted((REPO / "docs" / "runbooks").glob("*.md")):
        for block in re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S):
            if "recovery" in block:
                found.append((path.name, yaml.safe_load(block)))
    return found


def test_the_runbooks_values_render_the_recovery_cluster(tmp_path: Path) -> None:
    blocks = runbook_values()
    assert {name for name, _ in blocks} >= {"database-corruption.md", "lost-namespace.md"}
    for name, values in blocks:
        path = tmp_path / "runbook.yaml"
        path.write_text(yaml.safe_dump(values))
        docs = helm_chart.render(
            CHART, [helm_chart.profile_path("always-free"), path], helm=helm("helm4")
        )
        recovering = [
            c for c in kube.of_kind(docs, "Cluster") if "recovery" in c["spec"]["bootstrap"]
        ]
        assert recovering, name
        for cluster in recovering:
            archive = cluster["spec"]["plugins"][0]["parameters"]["serverName"]
            source = cluster["spec"]["externalClusters"][0]["plugin"]["parameters"]["serverName"]
            assert archive != source and archive.endswith("-r1"), name
        assert not crd_problems(kube.of_kind(docs, "Cluster")), name
        results = backup_rules.run_all(docs, context("always-free", docs))
        assert not {k: v for k, v in results.items() if v}, name


REFUSED: dict[str, tuple[dict[str, str], str]] = {
    "recovery into its own archive": (
        {"data.postgres.health.recovery.enabled": "true"},
        "would archive over the WAL it restores from",
    ),
    "recovery without the archive": (
        {
            "data.postgres.auth.recovery.enabled": "true",
            "data.postgres.auth.backupServerName": "healthplatform-auth-db-r1",
            "backups.pointInTime.enabled": "false",
        },
        "recovery reads the WAL archive",
    ),
    "archive_timeout beyond the RPO": (
        {"backups.pointInTime.archiveTimeout": "20min"},
        "longer than the 15 min RPO",
    ),
    "backups in the data lake bucket": (
        {"objectStore.buckets.backups": "hp-datalake"},
        "must not live in the data lake bucket",
    ),
    "erasure log in the backups bucket": (
        {"objectStore.buckets.erasureLog": "hp-backups"},
        "the erasure log needs a bucket of its own",
    ),
    "erasure log in the data lake bucket": (
        {"objectStore.buckets.erasureLog": "hp-datalake"},
        "the erasure log needs a bucket of its own",
    ),
    "archive_timeout as a PostgreSQL parameter": (
        {"data.postgres.health.parameters.archive_timeout": "1h"},
        "archive_timeout",
    ),
    "target time without a zone": (
        {"data.postgres.health.recovery.targetTime": "yesterday"},
        "targetTime",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_chart_refuses_unsafe_backup_values(case: str) -> None:
    sets, message = REFUSED[case]
    with pytest.raises(RuntimeError, match=message):
        helm_chart.render(
            CHART, [helm_chart.profile_path("always-free")], sets=sets, helm=helm("helm4")
        )


# --------------------------------------------------------------------------------------
# Velero (deploy/argocd/platform/velero + envs/<env>/velero.yaml)
# --------------------------------------------------------------------------------------


def velero_values(env: str) -> dict[str, Any]:
    values = yaml.safe_load((VELERO / "values.yaml").read_text())
    env_file = REPO / "deploy" / "argocd" / "envs" / env / "velero.yaml"
    return helm_chart.deep_merge(values, yaml.safe_load(env_file.read_text()))


@pytest.mark.parametrize("env", g.ENVS)
def test_velero_schedules_back_up_with_the_node_agent(env: str, tmp_path: Path) -> None:
    values = velero_values(env)
    # the node agent runs exactly when a rendered volume needs a file-system copy: none in
    # the GitOps environments, which both use the always-free profile (paid-small's RabbitMQ
    # claim would: messages in flight, the outbox in PostgreSQL being their source of truth)
    needed = velero_rules.fs_backup_needed(render("always-free"))
    assert not needed
    assert velero_rules.fs_backup_needed(render("paid-small"))
    assert not velero_rules.check_velero(values, VELERO_NAMESPACES, fs_backup_needed=needed)
    assert velero_rules.check_velero(values, VELERO_NAMESPACES, fs_backup_needed=True)
    objects = velero_rules.velero_objects(values)
    (schedule,) = kube.of_kind(objects, "Schedule")
    assert kube.name_of(schedule) == "velero-daily"
    assert schedule["spec"]["template"]["resourcePolicy"]["name"] == "velero-volume-policy"
    assert kube.find(objects, "ConfigMap", "velero-volume-policy") is not None
    assert not crd_problems(kube.of_kind(objects, "Schedule"))
    assert not builtin_problems(kube.of_kind(objects, "ConfigMap"), tmp_path)
    # every namespace it copies is one the environment deploys into (no typos)
    destinations = {str(a["spec"]["destination"].get("namespace")) for a in g.environment(env).apps}
    included = set(schedule["spec"]["template"]["includedNamespaces"])
    assert included == VELERO_NAMESPACES and included <= destinations
    assert "sealed-secrets" in destinations and "sealed-secrets" not in included


def test_database_volumes_are_labelled_out_of_velero() -> None:
    for profile in PROFILES:
        for cluster in kube.of_kind(render(profile), "Cluster"):
            labels = cluster["spec"]["inheritedMetadata"]["labels"]
            assert labels[backup_rules.VELERO_EXCLUDE] == "true", kube.ref(cluster)
            unlabelled = {**cluster, "spec": {**cluster["spec"], "inheritedMetadata": {}}}
            assert velero_rules.fs_backup_needed([unlabelled])


# --------------------------------------------------------------------------------------
# Capacity: the "backups (#11)" reservations
# --------------------------------------------------------------------------------------


# Per-component budgets the backup values were sized to (cpu m, memory Mi requests/limits);
# the whole install is counted from the renders (healthplatform_deploy.capacity).
BACKUP_BUDGETS = {
    "velero": (10, 96, 200, 256),
    "barman-cloud plugin": (5, 32, 100, 96),
}


def numbers(resources: dict[str, Any]) -> tuple[int, int, int, int]:
    return capacity.container_resources([{"resources": resources}])


def test_backup_components_fit_their_budgets() -> None:
    velero = yaml.safe_load((VELERO / "values.yaml").read_text())
    assert numbers(velero["resources"]) == BACKUP_BUDGETS["velero"]
    barman = yaml.safe_load((BARMAN / "values.yaml").read_text())
    assert numbers(barman["resources"]) == BACKUP_BUDGETS["barman-cloud plugin"]


def test_capacity_counts_the_backup_pods_and_sidecars() -> None:
    report = capacity_report.report_for("always-free")
    assert report.fits, report.problems
    names = {p.name for p in report.pods if p.layer == "platform chart"}
    assert {f"CronJob/{n}" for n in CRONJOBS.values()} <= names
    layers, _ = capacity_report.layered_docs("always-free")
    docs = layers["platform chart"]
    for cluster in kube.of_kind(docs, "Cluster"):
        pod = next(p for p in report.pods if p.name == f"{kube.ref(cluster)}#1")
        sidecar = capacity.barman_sidecar(docs, cluster)
        assert sidecar is not None
        expected = [
            a + b_
            for a, b_ in zip(
                numbers(cluster["spec"]["resources"]), numbers(sidecar["resources"]), strict=True
            )
        ]
        assert [pod.cpu_request, pod.memory_request, pod.cpu_limit, pod.memory_limit] == expected


# --------------------------------------------------------------------------------------
# Every rule fails on a broken fixture
# --------------------------------------------------------------------------------------


def load(name: str) -> list[kube.Doc]:
    return helm_chart.parse_documents((FIXTURES / f"{name}.yaml").read_text())


def fixture_problems(rule: str, name: str) -> list[str]:
    if rule == "velero":
        values = yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())
        return velero_rules.check_velero(values, VELERO_NAMESPACES, fs_backup_needed=True)
    docs = load(name)
    ctx = render_context.Context(docs, {"auth-keys": {"kek"}})
    if rule == "settings":
        return app_settings.check_settings(docs, ctx)
    if rule == "crd-schemas":
        return crd_problems(docs)
    return backup_rules.CHECKS[rule](docs, ctx)


FIXTURE_CASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "schedule-invalid": (
        "schedules",
        (
            "CronJob/weekly: schedule '15 2 * * 7': day of week 7 is outside 0-6",
            "a time zone in the schedule",
            "timeZone 'Mars/Olympus_Mons' is not an IANA time zone",
            "CronJob/seconds: schedule '0 15 2 * * *': 6 fields, expected 5",
            "ScheduledBackup/db-base-backup",
        ),
    ),
    "command-unknown": (
        "commands",
        (
            "'monthly' is not one of 'daily', 'weekly'",
            "`healthplatform backup` has no command 'snapshot'",
            "No such option: --databases",
        ),
    ),
    "restore-on-apply": (
        "no-restore",
        (
            "Job/restore restore: runs a restore (backup restore --database all",
            "CronJob/refresh-staging refresh: runs a restore (sh -c pg_restore",
        ),
    ),
    "backup-jobs-broken": (
        "backup-jobs",
        (
            "0 `verify` backup jobs rendered",
            "concurrencyPolicy is not Forbid",
            "restartPolicy is not Never",
            "no activeDeadlineSeconds",
            "/tmp is not an emptyDir with a sizeLimit",
            "the daily and weekly backup jobs can run at the same time",
            "backs up only health",
            "the backup jobs write different stores",
            "Deployment/relay relay: exports the backup metrics of ('hp-datalake'",
        ),
    ),
    "point-in-time-broken": (
        "point-in-time",
        (
            "Cluster/health: barmanObjectName 'health-store' is not a rendered ObjectStore",
            "Cluster/health: archive_timeout None is not set within the 15 min RPO",
            "Cluster/health: no ScheduledBackup takes its base backups",
            "Cluster/health: inheritedMetadata.labels lacks velero.io/exclude-from-backup",
            "Cluster/health: initdb does not give 'health' CREATEDB",
            "Cluster/auth: archive_timeout '30min'",
            "Cluster/auth: recovers from s3://hp-datalake/cnpg/auth/ and archives its new "
            "timeline into the same folder",
            "ScheduledBackup/auth-base-backup: method must be `plugin`",
            "ScheduledBackup/gone-base-backup: Cluster 'gone' is not rendered",
            "s3Credentials.accessKeyId: Secret 's3-keys' is neither rendered",
            "archives into the data lake bucket 'hp-datalake'",
            "ObjectStore/store: no retentionPolicy",
            "instanceSidecarConfiguration: no memory limit",
        ),
    ),
    "settings-backup-env": (
        "settings",
        (
            "CronJob/backup-daily backup: HP_BACKUP_BUCKETS is not a field of BackupSettings",
            "does not load into BackupSettings",
            "keep_daily",
            "does not load into AuthSettings",
            "HP_AUTH_KEY_ENCRYPTION_KEY is required when HP_AUTH_ENVIRONMENT='production'",
            "(backup-verify): HP_AUTH_KEY_ENCRYPTION_KEY must be absent",
            "(backup-verify): HP_DATABASE_URL must be a URL with credentials from a Secret",
            "Deployment/relay relay (relay): HP_BACKUP_BUCKET must be a bucket other than",
        ),
    ),
    "velero-values-broken": (
        "velero",
        (
            "deployNodeAgent is off",
            "uploaderType is not kopia",
            "Schedule/velero-hourly: schedule '0 * * * 8'",
            "defaultVolumesToFsBackup is not true",
            "snapshotVolumes is not false",
            "storageLocation 'offsite' is not a backupStorageLocation",
            "ttl 1h is shorter than a day",
            "resourcePolicy ConfigMap 'velero-volume-policy' is not rendered",
            "includes namespace 'sealed-secrets'",
            "does not exclude",
            "the volume policy does not skip emptyDir volumes",
            "Schedule/velero-weekly: includes every namespace",
            "no schedule backs up namespace 'healthplatform'",
        ),
    ),
    "crd-schema-invalid": (
        "crd-schemas",
        (
            "ObjectStore/store spec/retentionPolicy",
            "'walCompression' was unexpected",
            "ScheduledBackup/base spec/method",
            "Cluster/db spec/plugins/0",
            "Schedule/velero-daily",
            "'volumePolicy' was unexpected",
            "'schedule' is a required property",
        ),
    ),
}


@pytest.mark.parametrize("fixture", sorted(FIXTURE_CASES))
def test_rule_fails_on_broken_fixture(fixture: str) -> None:
    rule, expected = FIXTURE_CASES[fixture]
    text = "\n".join(fixture_problems(rule, fixture))
    missing = [e for e in expected if e not in text]
    assert not missing, f"{rule} on {fixture}: expected {missing} in:\n{text}"


def test_every_backup_rule_has_a_broken_fixture() -> None:
    rules = {rule for rule, _ in FIXTURE_CASES.values()}
    assert set(backup_rules.CHECKS) | {"settings", "velero", "crd-schemas"} == rules
    assert {p.stem for p in FIXTURES.glob("*.yaml")} == set(FIXTURE_CASES)


# --------------------------------------------------------------------------------------
# Documentation follows the values
# --------------------------------------------------------------------------------------


def documented_params(prefix: str) -> list[str]:
    text = (CHART / "values.yaml").read_text()
    return re.findall(rf"^\s*## @param ({re.escape(prefix)}\S+)", text, re.M)


def test_docs_name_the_values_keys() -> None:
    backup_md = (REPO / "docs" / "backup.md").read_text()
    params = documented_params("backups.")
    assert len(params) >= 20
    for param in params:
        assert f"`{param}`" in backup_md, param
    for key in ("recovery.enabled", "recovery.targetTime", "recovery.sourceServerName"):
        assert f"`data.postgres.<db>.{key}`" in backup_md, key
    assert "`data.postgres.<db>.backupServerName`" in backup_md
    section = backup_md.split("## What the chart schedules", 1)[1].split("\n## ", 1)[0]
    docs = render("always-free")
    for kind, name in CRONJOBS.items():
        spec = cronjob(docs, kind)["spec"]
        row = f"| `{name}` | `{spec['schedule']}` | `healthplatform {' '.join(ARGS[kind])}` |"
        assert row in section, row
    deploy_md = (REPO / "docs" / "deploy.md").read_text()
    assert "not templated in the chart yet" not in deploy_md
