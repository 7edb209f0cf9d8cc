"""Backup rules, part 1: schedules (CronJob and CloudNativePG cron), the CLI commands the
platform image's containers run, and no restore on apply (docs/backup.md)."""

from __future__ import annotations

import shlex
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from healthplatform_deploy.app_settings import app_role
from healthplatform_deploy.context import Context
from healthplatform_deploy.kube import Doc, of_kind, pod_templates, ref

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
    for cron in of_kind(docs, "CronJob"):
        spec = cron.get("spec") or {}
        try:
            parse_cron(str(spec.get("schedule", "")))
        except ValueError as exc:
            problems.append(f"{ref(cron)}: schedule {spec.get('schedule')!r}: {exc}")
        if spec.get("timeZone"):
            problem = _time_zone_problem(str(spec["timeZone"]))
            if problem:
                problems.append(f"{ref(cron)}: {problem}")
    for scheduled in of_kind(docs, "ScheduledBackup"):
        schedule = str((scheduled.get("spec") or {}).get("schedule", ""))
        try:
            parse_cron(schedule, seconds=True)
        except ValueError as exc:
            problems.append(
                f"{ref(scheduled)}: schedule {schedule!r} (CloudNativePG: seconds first): {exc}"
            )
    return problems


PLATFORM_COMMAND = "healthplatform"


def _cli_root() -> Any:
    """The click command behind the installed ``healthplatform`` console script (the program
    the platform image's containers run), found through the package metadata: this package
    has no import of the product's CLI module (tests/deploy/test_package_imports.py)."""
    import importlib
    from importlib.metadata import entry_points

    import typer

    found = entry_points(group="console_scripts", name=PLATFORM_COMMAND)
    if not found:
        raise RuntimeError(f"no `{PLATFORM_COMMAND}` console script: pip install -e . first")
    module = importlib.import_module(next(iter(found)).module)
    return typer.main.get_command(module.app)


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
        for pt in pod_templates(docs)
        for c in pt.containers()
        if app_role(c) is not None
    }


def check_commands(docs: list[Doc], ctx: Context) -> list[str]:
    """Every container of the platform image (entrypoint `healthplatform`) runs a command
    and options the CLI accepts."""
    problems: list[str] = []
    images = platform_images(docs)
    root = _cli_root()
    for pt in pod_templates(docs):
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
    for pt in pod_templates(docs):
        for container in pt.containers():
            words = _command_line(container)
            hits = [w for w in words if "restore" in w.lower()]
            if hits:
                problems.append(
                    f"{pt.ref} {container['name']}: runs a restore ({' '.join(words)}): "
                    "restores are manual (docs/runbooks/), never part of applying the chart"
                )
    return problems
