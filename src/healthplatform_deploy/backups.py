"""Offline rules for the backup side of the render (docs/backup.md).

The same shape as the rules of :mod:`healthplatform_deploy.rules` (each ``check_*`` takes
the rendered documents and a :class:`~healthplatform_deploy.context.Context` and returns
problems; :func:`healthplatform_deploy.rules.run_all` runs them on every render), plus
:func:`check_velero` for the Velero values in deploy/argocd (a chart that cannot be rendered
offline: :func:`velero_objects` builds its Schedules and ConfigMaps the way its templates
do). tests/deploy/test_backups_k8s.py shows every rule failing on a broken fixture in
tests/deploy/fixtures/backups/.

* ``schedules``: CronJob schedules (Kubernetes' 5-field cron, robfig/cron's standard
  parser: day of week 0-6) and time zones, ScheduledBackup schedules (CloudNativePG: a
  seconds field first);
* ``commands``: every container of the platform image runs a command the CLI has, with
  options it accepts (parsed by the CLI's own click parser, nothing is run);
* ``no-restore``: no rendered workload restores anything; restores are manual Jobs the
  runbooks create (the previous attempt restored as soon as the chart was applied);
* ``backup-jobs``: the three backup CronJobs exist together, cannot overlap, run once at a
  time with a deadline, write /tmp to a bounded emptyDir, and write the store the relay reads;
* ``point-in-time``: every CloudNativePG cluster archives WAL through the barman-cloud
  plugin into a rendered ObjectStore with credentials that exist, ``archive_timeout``
  within the 15 min RPO, base backups scheduled, a recovery never archives over the
  archive it restores from, two clusters never share an archive folder, owners may
  CREATE DATABASE when the verify job exists, database volumes are kept out of Velero.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from healthplatform_deploy.app_settings import BACKUP_ROLES, app_containers, app_role
from healthplatform_deploy.backup_schedules import (
    check_commands,
    check_no_restore,
    check_schedules,
    parse_cron,
)
from healthplatform_deploy.context import Context, EnvVar, container_env
from healthplatform_deploy.kube import Doc, PodTemplate, find, name_of, of_kind, pod_templates, ref
from healthplatform_deploy.pod_security import resources_ok

BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
RPO_SECONDS = 15 * 60
WEEK_MINUTES = 7 * 24 * 60
VELERO_EXCLUDE = "velero.io/exclude-from-backup"
BACKUP_KINDS = ("daily", "weekly", "verify")
# Namespaces whose Secrets must never reach the backups bucket in plain text: the sealing
# key opens every SealedSecret in git (it is exported encrypted, docs/backup.md).
NEVER_IN_VELERO = frozenset({"sealed-secrets", "velero", "kube-system"})
# Kinds Velero must leave to CloudNativePG (docs/backup.md, "Velero").
VELERO_EXCLUDED_RESOURCES = frozenset(
    {
        "clusters.postgresql.cnpg.io",
        "backups.postgresql.cnpg.io",
        "scheduledbackups.postgresql.cnpg.io",
    }
)


@dataclass
class BackupJob:
    kind: str  # daily, weekly, verify
    owner: Doc
    pod: PodTemplate
    container: Doc


def backup_jobs(docs: list[Doc]) -> tuple[list[BackupJob], list[str]]:
    """The containers that run `backup create` / `backup verify`, by kind."""
    found: list[BackupJob] = []
    problems: list[str] = []
    for pt in pod_templates(docs):
        for container in pt.containers():
            role = app_role(container)
            if role not in BACKUP_ROLES:
                continue
            args = [str(a) for a in container.get("args") or []]
            kind = "verify" if role == "backup-verify" else "daily"
            if "--kind" in args[:-1]:
                kind = args[args.index("--kind") + 1]
            if "--database" in args[:-1] and args[args.index("--database") + 1] != "all":
                problems.append(
                    f"{pt.ref} {container['name']}: backs up only "
                    f"{args[args.index('--database') + 1]}: both databases need "
                    "`--database all` (one job each would need its own schedule)"
                )
            found.append(BackupJob(kind, pt.owner, pt, container))
    return found, problems


def _minutes(seconds: object) -> int:
    return math.ceil(int(str(seconds or 0)) / 60)


def check_backup_jobs(docs: list[Doc], ctx: Context) -> list[str]:
    """The backup CronJobs: daily, weekly and verify all present (one each) as CronJobs,
    `concurrencyPolicy: Forbid`, `restartPolicy: Never`, a deadline, /tmp on an emptyDir
    with a size limit; no two of them can run at the same time (schedules repeat weekly;
    each may run from its start + startingDeadlineSeconds + activeDeadlineSeconds); they
    write the backup store the relay exports the metrics of."""
    jobs, problems = backup_jobs(docs)
    if not jobs:
        return problems
    kinds = [job.kind for job in jobs]
    for kind in BACKUP_KINDS:
        if kinds.count(kind) != 1:
            problems.append(f"{kinds.count(kind)} `{kind}` backup jobs rendered, expected 1")
    windows: dict[str, bytearray] = {}
    for job in jobs:
        where = f"{job.pod.ref} {job.container['name']}"
        if job.owner.get("kind") != "CronJob":
            problems.append(f"{where}: backups run from CronJobs, not a {job.owner.get('kind')}")
            continue
        spec = job.owner.get("spec") or {}
        job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        if spec.get("concurrencyPolicy") != "Forbid":
            problems.append(f"{where}: concurrencyPolicy is not Forbid (two runs would race)")
        if job.pod.spec.get("restartPolicy") != "Never":
            problems.append(f"{where}: restartPolicy is not Never (a failed dump must fail)")
        if not job_spec.get("activeDeadlineSeconds"):
            problems.append(f"{where}: no activeDeadlineSeconds (a hung pg_dump runs forever)")
        mounts = {
            v.get("mountPath"): v.get("name") for v in job.container.get("volumeMounts") or []
        }
        volumes = {v.get("name"): v for v in job.pod.spec.get("volumes") or []}
        tmp = volumes.get(mounts.get("/tmp"))  # noqa: S108 (a mount path, not a file)
        if tmp is None or "sizeLimit" not in (tmp.get("emptyDir") or {}):
            problems.append(f"{where}: /tmp is not an emptyDir with a sizeLimit (dumps land there)")
        try:
            fires = parse_cron(str(spec.get("schedule", ""))).weekly_minutes()
        except ValueError:
            continue  # reported by check_schedules
        if fires is None:
            problems.append(f"{where}: schedule must repeat weekly (day of month and month `*`)")
            continue
        length = _minutes(spec.get("startingDeadlineSeconds")) + _minutes(
            job_spec.get("activeDeadlineSeconds")
        )
        busy = windows.setdefault(job.kind, bytearray(WEEK_MINUTES))
        for start in fires:
            for minute in range(start, start + max(length, 1)):
                busy[minute % WEEK_MINUTES] = 1
    names = sorted(windows)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            both = [t for t in range(WEEK_MINUTES) if windows[first][t] and windows[second][t]]
            if both:
                day, rest = divmod(both[0], 1440)
                problems.append(
                    f"the {first} and {second} backup jobs can run at the same time "
                    f"(e.g. day {day} {rest // 60:02d}:{rest % 60:02d}, counting "
                    "startingDeadlineSeconds + activeDeadlineSeconds)"
                )
    problems += _same_backup_store(docs, ctx, jobs)
    return problems


def _same_backup_store(docs: list[Doc], ctx: Context, jobs: list[BackupJob]) -> list[str]:
    def store(env: Mapping[str, EnvVar]) -> tuple[str, str]:
        bucket = env["HP_BACKUP_BUCKET"].value if "HP_BACKUP_BUCKET" in env else ""
        prefix = env["HP_BACKUP_PREFIX"].value if "HP_BACKUP_PREFIX" in env else "backups/"
        return bucket, prefix

    written = {store(container_env(job.container, ctx)[0]) for job in jobs}
    problems = []
    if len(written) > 1:
        problems.append(f"the backup jobs write different stores: {sorted(written)}")
    apps, _ = app_containers(docs, ctx)
    for app in apps:
        if app.role == "relay" and store(app.env) not in written:
            problems.append(
                f"{app.where}: exports the backup metrics of {store(app.env)}, but the jobs "
                f"write {sorted(written)}"
            )
    return problems


_PG_UNITS = {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400}


def pg_seconds(value: object) -> float:
    """A PostgreSQL time parameter in seconds (a bare number is seconds)."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|min|h|d)?\s*", str(value))
    if not match:
        raise ValueError(f"not a PostgreSQL time: {value!r}")
    return float(match.group(1)) * _PG_UNITS[match.group(2) or "s"]


def _archiver(cluster: Doc) -> Doc | None:
    plugin: Doc
    for plugin in (cluster.get("spec") or {}).get("plugins") or []:
        archives = plugin.get("isWALArchiver") and plugin.get("enabled", True)
        if plugin.get("name") == BARMAN_PLUGIN and archives:
            return plugin
    return None


def _location(
    docs: list[Doc], where: str, parameters: Mapping[str, Any], default_server: str
) -> tuple[tuple[str, str] | None, list[str]]:
    """(destinationPath, serverName) an archive lives at, from barman plugin parameters."""
    name = str(parameters.get("barmanObjectName", ""))
    store = find(docs, "ObjectStore", name)
    if store is None:
        return None, [f"{where}: barmanObjectName {name!r} is not a rendered ObjectStore"]
    config = (store.get("spec") or {}).get("configuration") or {}
    server = str(parameters.get("serverName") or config.get("serverName") or default_server)
    return (str(config.get("destinationPath", "")).rstrip("/"), server), []


def check_point_in_time(docs: list[Doc], ctx: Context) -> list[str]:
    """WAL archiving and recovery of every CloudNativePG Cluster (module docstring)."""
    problems: list[str] = []
    archives: dict[tuple[str, str], str] = {}
    verify = any(job.kind == "verify" for job in backup_jobs(docs)[0])
    scheduled = {
        str(((s.get("spec") or {}).get("cluster") or {}).get("name")): s
        for s in of_kind(docs, "ScheduledBackup")
    }
    for cluster in of_kind(docs, "Cluster"):
        if not str(cluster.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
            continue
        where, name = ref(cluster), name_of(cluster)
        spec = cluster.get("spec") or {}
        bootstrap = spec.get("bootstrap") or {}
        labels = (spec.get("inheritedMetadata") or {}).get("labels") or {}
        if str(labels.get(VELERO_EXCLUDE)) != "true":
            problems.append(
                f"{where}: inheritedMetadata.labels lacks {VELERO_EXCLUDE}: 'true' (Velero "
                "would copy a live data directory, which is not a backup)"
            )
        initdb = bootstrap.get("initdb")
        if verify and initdb is not None:
            owner = str(initdb.get("owner", ""))
            statements = [" ".join(str(s).upper().split()) for s in initdb.get("postInitSQL") or []]
            if f"ALTER ROLE {owner.upper()} CREATEDB" not in statements:
                problems.append(
                    f"{where}: initdb does not give {owner!r} CREATEDB (postInitSQL): "
                    "`backup verify` restores into a scratch database it creates"
                )
        plugin = _archiver(cluster)
        if plugin is None:
            if bootstrap.get("recovery"):
                problems.append(f"{where}: recovers from an archive but archives no WAL itself")
            continue
        location, found = _location(docs, where, plugin.get("parameters") or {}, name)
        problems += found
        timeout = ((spec.get("postgresql") or {}).get("parameters") or {}).get("archive_timeout")
        try:
            if timeout is None or pg_seconds(timeout) > RPO_SECONDS:
                problems.append(
                    f"{where}: archive_timeout {timeout!r} is not set within the 15 min RPO "
                    "(set it explicitly: it is the RPO)"
                )
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
        backup = scheduled.get(name)
        if backup is None:
            problems.append(f"{where}: no ScheduledBackup takes its base backups")
        else:
            bspec = backup.get("spec") or {}
            if (
                bspec.get("method") != "plugin"
                or (bspec.get("pluginConfiguration") or {}).get("name") != BARMAN_PLUGIN
            ):
                problems.append(
                    f"{ref(backup)}: method must be `plugin` with {BARMAN_PLUGIN} "
                    "(the default barmanObjectStore method is not configured)"
                )
        if location is None:
            continue
        if location in archives:
            problems.append(
                f"{where}: archives into {location[0]}/{location[1]}/, as {archives[location]} does"
            )
        archives[location] = where
        recovery = bootstrap.get("recovery")
        if recovery:
            problems += _recovery_problems(docs, cluster, recovery, location)
    for scheduled_backup in scheduled.values():
        target = str(((scheduled_backup.get("spec") or {}).get("cluster") or {}).get("name"))
        if find(docs, "Cluster", target) is None:
            problems.append(f"{ref(scheduled_backup)}: Cluster {target!r} is not rendered")
    problems += _object_store_problems(docs, ctx)
    return problems


def _recovery_problems(
    docs: list[Doc], cluster: Doc, recovery: Doc, archive: tuple[str, str]
) -> list[str]:
    where = ref(cluster)
    source = str(recovery.get("source", ""))
    external = {
        str(e.get("name")): e for e in (cluster.get("spec") or {}).get("externalClusters") or []
    }
    if source not in external:
        return [f"{where}: recovery source {source!r} is not in externalClusters"]
    plugin = external[source].get("plugin") or {}
    if plugin.get("name") != BARMAN_PLUGIN:
        return [f"{where}: recovery source {source!r} is not read through {BARMAN_PLUGIN}"]
    origin, problems = _location(docs, where, plugin.get("parameters") or {}, name_of(cluster))
    if origin == archive:
        problems.append(
            f"{where}: recovers from {origin[0]}/{origin[1]}/ and archives its new timeline "
            "into the same folder: give the new cluster another serverName (…-r1)"
        )
    return problems


def _object_store_problems(docs: list[Doc], ctx: Context) -> list[str]:
    problems: list[str] = []
    lakes = {
        app.env["HP_S3_BUCKET"].value
        for app in app_containers(docs, ctx)[0]
        if "HP_S3_BUCKET" in app.env
    }
    for store in of_kind(docs, "ObjectStore"):
        where = ref(store)
        spec = store.get("spec") or {}
        config = spec.get("configuration") or {}
        for field_name in ("accessKeyId", "secretAccessKey"):
            secret = (config.get("s3Credentials") or {}).get(field_name) or {}
            if not secret:
                problems.append(f"{where}: s3Credentials.{field_name} is not set")
                continue
            keys = ctx.secret_keys(str(secret.get("name")))
            if keys is None:
                problems.append(
                    f"{where}: s3Credentials.{field_name}: Secret {secret.get('name')!r} is "
                    "neither rendered, made by an operator, nor declared in values secrets.*"
                )
            elif secret.get("key") not in keys:
                problems.append(
                    f"{where}: s3Credentials.{field_name}: Secret {secret.get('name')!r} has "
                    f"no key {secret.get('key')!r}"
                )
        bucket = str(config.get("destinationPath", "")).removeprefix("s3://").split("/", 1)[0]
        if bucket in lakes:
            problems.append(
                f"{where}: archives into the data lake bucket {bucket!r} (use the backups bucket)"
            )
        if not spec.get("retentionPolicy"):
            problems.append(f"{where}: no retentionPolicy (the archive would grow forever)")
        resources = (spec.get("instanceSidecarConfiguration") or {}).get("resources")
        problems += resources_ok(f"{where} instanceSidecarConfiguration", resources)
    return problems


CHECKS: dict[str, Callable[[list[Doc], Context], list[str]]] = {
    "schedules": check_schedules,
    "commands": check_commands,
    "no-restore": check_no_restore,
    "backup-jobs": check_backup_jobs,
    "point-in-time": check_point_in_time,
}


def run_all(docs: list[Doc], ctx: Context) -> dict[str, list[str]]:
    return {name: check(docs, ctx) for name, check in CHECKS.items()}
