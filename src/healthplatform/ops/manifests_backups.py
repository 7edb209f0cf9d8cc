"""Offline rules for the backup side of the render (docs/backup.md).

The same shape as the rules of :mod:`healthplatform.ops.manifests` (each ``check_*`` takes
the rendered documents and a :class:`~healthplatform.ops.manifests.Context` and returns
problems; :func:`healthplatform.ops.manifests.run_all` runs them on every render), plus
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
import shlex
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from healthplatform.ops import manifests as m
from healthplatform.ops.manifests import Context, Doc

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

# --------------------------------------------------------------------------------------
# Cron
# --------------------------------------------------------------------------------------

_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
_SECONDS = ("second", 0, 59)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_NAMES = {
    "month": {name: i for i, name in enumerate(_MONTHS, 1)},
    "day of week": {name: i for i, name in enumerate(_DAYS)},
}
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@dataclass(frozen=True)
class Cron:
    """A parsed schedule: the values each field matches, and which fields were ``*``."""

    fields: tuple[frozenset[int], ...]
    wildcard: tuple[bool, ...]

    def weekly_minutes(self) -> set[int] | None:
        """Minutes of the week (0 = Sunday 00:00) the schedule fires at, or None when the
        day of month or the month is restricted (then it does not repeat weekly)."""
        minute, hour, _, _, dow = self.fields[-5:]
        if not (self.wildcard[-3] and self.wildcard[-2]):
            return None
        return {d * 1440 + h * 60 + mi for d in dow for h in hour for mi in minute}


def _value(token: str, name: str, lo: int, hi: int) -> int:
    names = _NAMES.get(name, {})
    value = names[token.upper()] if token.upper() in names else int(token)
    if not lo <= value <= hi:
        raise ValueError(f"{name} {value} is outside {lo}-{hi}")
    return value


def _field(text: str, name: str, lo: int, hi: int) -> frozenset[int]:
    found: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"{name}: step {step_text!r}")
        if base in ("*", "?"):
            start, end = lo, hi
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _value(first, name, lo, hi), _value(last, name, lo, hi)
            if start > end:
                raise ValueError(f"{name}: range {base!r} runs backwards")
        else:
            start = _value(base, name, lo, hi)
            end = hi if step_text else start
        found.update(range(start, end + 1, step))
    return frozenset(found)


def parse_cron(expression: str, *, seconds: bool = False) -> Cron:
    """Parse a cron schedule like robfig/cron (Kubernetes CronJobs; CloudNativePG with a
    seconds field first). Raises ValueError with the reason."""
    text = " ".join(str(expression).split())
    if text.upper().startswith(("TZ=", "CRON_TZ=")):
        raise ValueError("a time zone in the schedule: use the CronJob's timeZone field")
    if not seconds and text in _MACROS:
        text = _MACROS[text]
    layout = (_SECONDS, *_FIELDS) if seconds else _FIELDS
    parts = text.split(" ")
    if len(parts) != len(layout):
        raise ValueError(f"{len(parts)} fields, expected {len(layout)}")
    try:
        fields = tuple(
            _field(part, name, lo, hi) for part, (name, lo, hi) in zip(parts, layout, strict=True)
        )
    except (ValueError, KeyError) as exc:
        raise ValueError(str(exc) or "not a number") from exc
    return Cron(fields, tuple(p in ("*", "?") for p in parts))


def _time_zone_problem(zone: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        if zoneinfo.available_timezones():  # no tz database here: cannot tell
            return f"timeZone {zone!r} is not an IANA time zone"
    return None


# --------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------


def check_schedules(docs: list[Doc], ctx: Context) -> list[str]:
    """CronJob schedules and time zones, ScheduledBackup schedules parse."""
    problems: list[str] = []
    for cron in m.of_kind(docs, "CronJob"):
        spec = cron.get("spec") or {}
        try:
            parse_cron(str(spec.get("schedule", "")))
        except ValueError as exc:
            problems.append(f"{m.ref(cron)}: schedule {spec.get('schedule')!r}: {exc}")
        if spec.get("timeZone"):
            problem = _time_zone_problem(str(spec["timeZone"]))
            if problem:
                problems.append(f"{m.ref(cron)}: {problem}")
    for scheduled in m.of_kind(docs, "ScheduledBackup"):
        schedule = str((scheduled.get("spec") or {}).get("schedule", ""))
        try:
            parse_cron(schedule, seconds=True)
        except ValueError as exc:
            problems.append(
                f"{m.ref(scheduled)}: schedule {schedule!r} (CloudNativePG: seconds first): {exc}"
            )
    return problems


def _cli_root() -> Any:
    import typer

    from healthplatform.cli import app

    return typer.main.get_command(app)


def cli_problem(args: Sequence[str], root: Any | None = None) -> str | None:
    """Why ``healthplatform <args>`` is not a command line the CLI accepts (unknown command,
    option or choice, missing value), or None. Parsed by the CLI's own parser: nothing runs."""
    import typer

    command = root if root is not None else _cli_root()
    path = ["healthplatform"]
    rest = [str(a) for a in args]
    while hasattr(command, "commands"):
        if not rest or rest[0].startswith("-"):
            return f"`{' '.join(path)}` needs a command ({', '.join(sorted(command.commands))})"
        name = rest.pop(0)
        if name not in command.commands:
            return (
                f"`{' '.join(path)}` has no command {name!r} "
                f"(it has {', '.join(sorted(command.commands))})"
            )
        path.append(name)
        command = command.commands[name]
    try:
        command.make_context(" ".join(path), list(rest))  # the parser consumes its list
    except typer.TyperException as exc:
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return f"`{' '.join([*path, *rest])}`: {' '.join(str(message).split())}"
    return None


def platform_images(docs: list[Doc]) -> set[str]:
    """Images of containers that run a platform command (:func:`manifests.app_role`)."""
    return {
        str(c.get("image"))
        for pt in m.pod_templates(docs)
        for c in pt.containers()
        if m.app_role(c) is not None
    }


def check_commands(docs: list[Doc], ctx: Context) -> list[str]:
    """Every container of the platform image (entrypoint `healthplatform`) runs a command
    and options the CLI accepts."""
    problems: list[str] = []
    images = platform_images(docs)
    root = _cli_root()
    for pt in m.pod_templates(docs):
        for container in pt.containers():
            if container.get("command") or str(container.get("image")) not in images:
                continue
            problem = cli_problem(container.get("args") or [], root)
            if problem:
                problems.append(f"{pt.ref} {container['name']}: {problem}")
    return problems


def _command_line(container: Doc) -> list[str]:
    words: list[str] = []
    for part in ("command", "args"):
        for item in container.get(part) or []:
            try:
                words += shlex.split(str(item))
            except ValueError:
                words += str(item).split()
    return words


def check_no_restore(docs: list[Doc], ctx: Context) -> list[str]:
    """No rendered workload (Job, CronJob, Helm hook, Deployment, ...) restores anything:
    a restore is a manual step of the runbooks (docs/runbooks/), never part of applying the
    chart. Database recovery is CloudNativePG's `bootstrap.recovery`, read only when a
    Cluster is created."""
    problems: list[str] = []
    for pt in m.pod_templates(docs):
        for container in pt.containers():
            words = _command_line(container)
            hits = [w for w in words if "restore" in w.lower()]
            if hits:
                problems.append(
                    f"{pt.ref} {container['name']}: runs a restore ({' '.join(words)}): "
                    "restores are manual (docs/runbooks/), never part of applying the chart"
                )
    return problems


@dataclass
class BackupJob:
    kind: str  # daily, weekly, verify
    owner: Doc
    pod: m.PodTemplate
    container: Doc


def backup_jobs(docs: list[Doc]) -> tuple[list[BackupJob], list[str]]:
    """The containers that run `backup create` / `backup verify`, by kind."""
    found: list[BackupJob] = []
    problems: list[str] = []
    for pt in m.pod_templates(docs):
        for container in pt.containers():
            role = m.app_role(container)
            if role not in m.BACKUP_ROLES:
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
    def store(env: Mapping[str, m.EnvVar]) -> tuple[str, str]:
        bucket = env["HP_BACKUP_BUCKET"].value if "HP_BACKUP_BUCKET" in env else ""
        prefix = env["HP_BACKUP_PREFIX"].value if "HP_BACKUP_PREFIX" in env else "backups/"
        return bucket, prefix

    written = {store(m.container_env(job.container, ctx)[0]) for job in jobs}
    problems = []
    if len(written) > 1:
        problems.append(f"the backup jobs write different stores: {sorted(written)}")
    apps, _ = m.app_containers(docs, ctx)
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
    store = m.find(docs, "ObjectStore", name)
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
        for s in m.of_kind(docs, "ScheduledBackup")
    }
    for cluster in m.of_kind(docs, "Cluster"):
        if not str(cluster.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
            continue
        where, name = m.ref(cluster), m.name_of(cluster)
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
                    f"{m.ref(backup)}: method must be `plugin` with {BARMAN_PLUGIN} "
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
        if m.find(docs, "Cluster", target) is None:
            problems.append(f"{m.ref(scheduled_backup)}: Cluster {target!r} is not rendered")
    problems += _object_store_problems(docs, ctx)
    return problems


def _recovery_problems(
    docs: list[Doc], cluster: Doc, recovery: Doc, archive: tuple[str, str]
) -> list[str]:
    where = m.ref(cluster)
    source = str(recovery.get("source", ""))
    external = {
        str(e.get("name")): e for e in (cluster.get("spec") or {}).get("externalClusters") or []
    }
    if source not in external:
        return [f"{where}: recovery source {source!r} is not in externalClusters"]
    plugin = external[source].get("plugin") or {}
    if plugin.get("name") != BARMAN_PLUGIN:
        return [f"{where}: recovery source {source!r} is not read through {BARMAN_PLUGIN}"]
    origin, problems = _location(docs, where, plugin.get("parameters") or {}, m.name_of(cluster))
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
        for app in m.app_containers(docs, ctx)[0]
        if "HP_S3_BUCKET" in app.env
    }
    for store in m.of_kind(docs, "ObjectStore"):
        where = m.ref(store)
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
        problems += m._resources_ok(f"{where} instanceSidecarConfiguration", resources)
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


# --------------------------------------------------------------------------------------
# Velero (deploy/argocd/platform/velero: values of the upstream chart)
# --------------------------------------------------------------------------------------


def velero_fullname(values: Mapping[str, Any], release: str = "velero") -> str:
    """`velero.fullname` of vmware-tanzu/helm-charts' velero chart."""
    if values.get("fullnameOverride"):
        return str(values["fullnameOverride"])[:63].rstrip("-")
    name = str(values.get("nameOverride") or "velero")
    full = release if name in release else f"{release}-{name}"
    return full[:63].rstrip("-")


def velero_objects(
    values: Mapping[str, Any], release: str = "velero", namespace: str = "velero"
) -> list[Doc]:
    """The Schedules and ConfigMaps the velero chart (12.x, templates/schedule.yaml and
    configmaps.yaml) renders from ``schedules`` and ``configMaps``."""
    fullname = velero_fullname(values, release)
    docs: list[Doc] = []
    for key, schedule in sorted((values.get("schedules") or {}).items()):
        if schedule.get("disabled"):
            continue
        spec: Doc = {}
        for option in ("paused", "useOwnerReferencesInBackup", "skipImmediately"):
            if schedule.get(option):
                spec[option] = schedule[option]
        spec["schedule"] = str(schedule.get("schedule", ""))
        if schedule.get("template"):
            spec["template"] = schedule["template"]
        docs.append(
            {
                "apiVersion": "velero.io/v1",
                "kind": "Schedule",
                "metadata": {
                    "name": f"{fullname}-{key}",
                    "namespace": namespace,
                    "labels": {
                        "app.kubernetes.io/name": "velero",
                        **(schedule.get("labels") or {}),
                    },
                },
                "spec": spec,
            }
        )
    for key, config_map in sorted((values.get("configMaps") or {}).items()):
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": f"{fullname}-{key}",
                    "namespace": namespace,
                    "labels": {
                        "app.kubernetes.io/name": "velero",
                        **(config_map.get("labels") or {}),
                    },
                },
                "data": dict(config_map.get("data") or {}),
            }
        )
    return docs


def _go_duration_hours(text: str) -> float:
    units = {"h": 1.0, "m": 1 / 60, "s": 1 / 3600, "ms": 1 / 3_600_000}
    parts = re.findall(r"([0-9.]+)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    return sum(float(n) * units[u] for n, u in parts)


def check_velero(
    values: Mapping[str, Any], platform_namespaces: Iterable[str], release: str = "velero"
) -> list[str]:
    """Velero's schedules: file-system backups through the node agent (kopia), no volume
    snapshots, a volume policy ConfigMap the chart renders that skips scratch volumes, a
    backup location that exists, a TTL of at least a day, the platform namespaces in and the
    CloudNativePG objects out, and never a namespace whose Secrets must not reach the bucket
    (the Sealed Secrets key)."""
    problems: list[str] = []
    objects = velero_objects(values, release)
    schedules = m.of_kind(objects, "Schedule")
    config_maps = {m.name_of(c): c for c in m.of_kind(objects, "ConfigMap")}
    locations = {
        str(loc.get("name"))
        for loc in (values.get("configuration") or {}).get("backupStorageLocation") or []
    }
    if not schedules:
        problems.append("velero: no schedule (values `schedules`)")
    if not values.get("deployNodeAgent"):
        problems.append("velero: deployNodeAgent is off: file-system backups need the node agent")
    if (values.get("configuration") or {}).get("uploaderType") != "kopia":
        problems.append("velero: configuration.uploaderType is not kopia")
    covered: set[str] = set()
    for schedule in schedules:
        where = m.ref(schedule)
        spec = schedule["spec"]
        template = spec.get("template") or {}
        try:
            parse_cron(spec["schedule"])
        except ValueError as exc:
            problems.append(f"{where}: schedule {spec['schedule']!r}: {exc}")
        if template.get("defaultVolumesToFsBackup") is not True:
            problems.append(f"{where}: defaultVolumesToFsBackup is not true (file-system backup)")
        if template.get("snapshotVolumes") is not False:
            problems.append(f"{where}: snapshotVolumes is not false (no volume snapshots here)")
        location = template.get("storageLocation")
        if location not in locations:
            problems.append(
                f"{where}: storageLocation {location!r} is not a backupStorageLocation "
                f"({sorted(locations)})"
            )
        try:
            if _go_duration_hours(str(template.get("ttl", ""))) < 24:
                problems.append(f"{where}: ttl {template.get('ttl')} is shorter than a day")
        except ValueError as exc:
            problems.append(f"{where}: ttl: {exc}")
        problems += _volume_policy_problems(where, template.get("resourcePolicy"), config_maps)
        included = {str(n) for n in template.get("includedNamespaces") or []}
        covered |= included
        for namespace in sorted(included & NEVER_IN_VELERO):
            problems.append(
                f"{where}: includes namespace {namespace!r}: its Secrets would reach the "
                "bucket in plain text (the sealing key is exported encrypted, docs/backup.md)"
            )
        if "*" in included or not included:
            problems.append(f"{where}: includes every namespace (list them)")
        missing = VELERO_EXCLUDED_RESOURCES - {
            str(r) for r in template.get("excludedResources") or []
        }
        if missing:
            problems.append(
                f"{where}: does not exclude {sorted(missing)} (the databases come back "
                "through CloudNativePG)"
            )
    for namespace in sorted(set(platform_namespaces) - covered):
        problems.append(f"velero: no schedule backs up namespace {namespace!r}")
    return problems


def _volume_policy_problems(
    where: str, policy: Mapping[str, Any] | None, config_maps: Mapping[str, Doc]
) -> list[str]:
    if not policy:
        return [f"{where}: no resourcePolicy (scratch volumes would be copied)"]
    if str(policy.get("kind", "")).lower() != "configmap":
        return [f"{where}: resourcePolicy kind {policy.get('kind')!r} is not configmap"]
    config_map = config_maps.get(str(policy.get("name")))
    if config_map is None:
        return [
            f"{where}: resourcePolicy ConfigMap {policy.get('name')!r} is not rendered by the "
            f"chart's configMaps ({sorted(config_maps)})"
        ]
    data = config_map.get("data") or {}
    if len(data) != 1:
        return [f"{m.ref(config_map)}: a resource policy ConfigMap holds exactly one key"]
    try:
        parsed = yaml.safe_load(next(iter(data.values()))) or {}
    except yaml.YAMLError as exc:
        return [f"{m.ref(config_map)}: policy is not YAML: {exc}"]
    if parsed.get("version") != "v1":
        return [f"{m.ref(config_map)}: policy version is not v1"]
    skipped = {
        str(t)
        for rule in parsed.get("volumePolicies") or []
        if (rule.get("action") or {}).get("type") == "skip"
        for t in (rule.get("conditions") or {}).get("volumeTypes") or []
    }
    if "emptyDir" not in skipped:
        return [f"{m.ref(config_map)}: the volume policy does not skip emptyDir volumes"]
    return []
