"""Command line of backups (`healthplatform backup ...`) and of `healthplatform reprocess`.

Mounted by ``healthplatform.cli``: ``app.add_typer(backup_cli, name="backup")`` and
``app.command("reprocess")(reprocess)``. Configuration: ``HP_*`` (databases, data lake),
``HP_AUTH_*`` (auth database) and ``HP_BACKUP_*`` (see `healthplatform backup settings`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from healthplatform.core.console import console, out, reflowed_help, reporter, run
from healthplatform.ops.backups.console import Which, load, shown_url, when
from healthplatform.ops.backups.erasure_cli import apply_erasures
from healthplatform.ops.backups.reprocess_cli import reprocess
from healthplatform.ops.backups.settings import reference_table
from healthplatform.ops.backups.store import DatabaseName, Kind, open_backup_store

__all__ = ["backup_cli", "reprocess"]

backup_cli = typer.Typer(
    help="Logical backups of the health and auth databases and of the raw uploads: "
    "create, list, verify by restoring, restore. Production point-in-time recovery is "
    "CloudNativePG's (docs/backup.md).",
    no_args_is_help=True,
)
F = TypeVar("F", bound=Callable[..., None])
backup_cli.command("apply-erasures", help=reflowed_help(apply_erasures))(apply_erasures)


def command(name: str) -> Callable[[F], F]:
    """Register a backup command with its docstring as help."""

    def register(fn: F) -> F:
        backup_cli.command(name, help=reflowed_help(fn))(fn)
        return fn

    return register


DatabaseOpt = Annotated[
    Which, typer.Option(help="Which database: health (with the raw uploads), auth, or all.")
]
BackupOpt = Annotated[
    str | None,
    typer.Option(
        "--backup",
        help="Timestamp of one backup as `backup list` shows it (e.g. 20261126T021500.123Z); "
        "default: the newest.",
    ),
]


# --- commands ------------------------------------------------------------------------------


@command("create")
def create(
    database: DatabaseOpt = Which.all,
    kind: Annotated[
        Kind,
        typer.Option(help="Retention class: the newest HP_BACKUP_KEEP_DAILY/_WEEKLY are kept."),
    ] = Kind.daily,
    raw: Annotated[
        bool, typer.Option(help="With the health database, copy new raw uploads too.")
    ] = True,
) -> None:
    """Dump the database(s) into the backup store with a manifest (SHA-256, size, row
    counts, schema revision), copy new raw uploads, apply the retention policy.

    PostgreSQL needs `pg_dump` (Debian package postgresql-client, at least the server's
    major version); SQLite (local runs) uses its online backup API. Exit code 1 if any
    database failed; the result is recorded for the hp_backup_* metrics."""
    from healthplatform.ops.backups.create import create_backup
    from healthplatform.ops.backups.db import database_targets
    from healthplatform.storage import create_object_store

    settings, auth_settings, cfg = load(database)
    targets = database_targets(settings, auth_settings)

    async def work() -> bool:
        failed = False
        lake = create_object_store(settings) if raw else None
        if lake is not None:
            await lake.start()
        try:
            async with open_backup_store(settings, cfg) as store:
                for name in database.names():
                    with reporter() as report:
                        try:
                            outcome = await create_backup(
                                targets[name], store, cfg, kind, lake=lake, reporter=report
                            )
                        except Exception as exc:
                            console.print(f"[red]{name}: backup failed:[/red] {exc}")
                            failed = True
                            continue
                    m = outcome.manifest
                    seconds = (m.finished_at - m.started_at).total_seconds()
                    out.print(
                        f"[green]{name}[/green]: {m.dump_key} ({m.size_bytes / 1e6:.1f} MB, "
                        f"{m.total_rows} rows, revision {m.alembic_revision}, {seconds:.1f} s)"
                    )
                    if outcome.raw is not None:
                        out.print(
                            f"  raw uploads: {outcome.raw.copied} copied "
                            f"({outcome.raw.bytes_copied / 1e6:.1f} MB), "
                            f"{outcome.raw.skipped} already there"
                        )
                    if outcome.expired or outcome.pruned_raw_copies:
                        out.print(
                            f"  rotation: {len(outcome.expired)} objects of old backups and "
                            f"{outcome.pruned_raw_copies} unreferenced raw copies deleted"
                        )
                    for warning in outcome.warnings:
                        console.print(f"  [yellow]warning:[/yellow] {warning}")
        finally:
            if lake is not None:
                await lake.close()
        return failed

    if run(work, "backup"):
        raise typer.Exit(1)


@command("list")
def list_command(database: DatabaseOpt = Which.all) -> None:
    """Show the stored backups, the space they use and the last results."""
    from healthplatform.ops.backups.create import read_manifest, stored_backups, usage
    from healthplatform.ops.backups.status import read_status

    settings, _, cfg = load()

    async def work() -> None:
        async with open_backup_store(settings, cfg) as store:
            table = Table("database", "kind", "backup", "size", "rows", "revision", "sha256")
            for name in database.names():
                for backup in reversed(await stored_backups(store, cfg.prefix, name)):
                    if not backup.complete:
                        table.add_row(name, backup.kind, backup.stamp, "[yellow]incomplete")
                        continue
                    m = await read_manifest(store, backup)
                    table.add_row(
                        name,
                        m.kind,
                        backup.stamp,
                        f"{m.size_bytes / 1e6:.1f} MB",
                        str(m.total_rows),
                        str(m.alembic_revision),
                        m.sha256[:12],
                    )
            out.print(table)
            total, raw = await usage(store, cfg.prefix)
            colour = "red" if total > cfg.budget_gb * 1e9 else "green"
            out.print(
                f"stored under {cfg.prefix}: [{colour}]{total / 1e9:.3f} GB[/{colour}] of the "
                f"{cfg.budget_gb} GB plan ({raw} raw upload copies)"
            )
            status = await read_status(store, cfg.prefix)
            for name in database.names():
                entry = status.database(name)
                verdict = (
                    "ok" if entry.last_verify_ok else "FAILED" if entry.last_verify_at else "-"
                )
                out.print(
                    f"{name}: last success {when(entry.last_success_at)}, last verify "
                    f"{when(entry.last_verify_at)} ({verdict})"
                )

    run(work, "list")


@command("verify")
def verify(database: DatabaseOpt = Which.all, backup: BackupOpt = None) -> None:
    """Restore the newest backup into a scratch database and check it; exit code 1 on any
    failure.

    Checks: checksum, row counts against the manifest, a read of every table, schema
    revision at head (the scratch copy is migrated if the backup predates a migration) and,
    for health, a backup copy of every completed upload's raw file. PostgreSQL: the scratch
    database `hp_verify_<random>` is created on the same server (the role needs CREATEDB)
    and dropped afterwards. The result is recorded for the hp_backup_verify_* metrics."""
    from healthplatform.ops.backups.create import find_backup
    from healthplatform.ops.backups.db import database_targets
    from healthplatform.ops.backups.verify import VerifyReport, verify_backup

    settings, auth_settings, cfg = load(database)
    targets = database_targets(settings, auth_settings)
    if backup and database is Which.all:
        console.print("[red]--backup names one backup: add --database health or auth[/red]")
        raise typer.Exit(2)

    async def work() -> list[VerifyReport]:
        reports = []
        async with open_backup_store(settings, cfg) as store:
            for name in database.names():
                with reporter() as report:
                    manifest = (
                        await find_backup(store, cfg.prefix, name, stamp=backup) if backup else None
                    )
                    reports.append(
                        await verify_backup(
                            targets[name], store, cfg, manifest=manifest, reporter=report
                        )
                    )
        return reports

    reports = run(work, "verify")
    for result in reports:
        table = Table(title=f"{result.database}: {result.dump_key or 'no backup'}")
        table.add_column("check")
        table.add_column("result")
        table.add_column("detail")
        for check in result.checks:
            table.add_row(check.name, "[green]ok" if check.ok else "[red]FAILED", check.detail)
        out.print(table)
        restore = f"{result.restore_seconds:.1f}" if result.restore_seconds is not None else "-"
        out.print(f"restore {restore} s, total {result.total_seconds:.1f} s")
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


@command("restore")
def restore(
    database: DatabaseOpt = Which.all,
    backup: BackupOpt = None,
    before: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
            help="Use the newest backup taken before this UTC time (e.g. to go back to "
            "before a corruption).",
        ),
    ] = None,
    objects: Annotated[
        bool,
        typer.Option(
            help="Health: copy back raw uploads the lake lacks and rebuild lost training examples."
        ),
    ] = True,
    replace: Annotated[
        bool,
        typer.Option(help="Drop the contents of a non-empty target database first."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Restore database(s) from the backup store into the configured databases.

    The target must be missing (PostgreSQL: it is created; the role needs CREATEDB), empty
    (e.g. a new CloudNativePG cluster) or, with --replace, is emptied. Stop the services
    first. The restored rows are checked against the manifest; uploads left queued get new
    events. For production point-in-time recovery use CloudNativePG (docs/backup.md)."""
    from healthplatform.me import erasure_log
    from healthplatform.ops.backups.create import find_backup
    from healthplatform.ops.backups.db import database_targets
    from healthplatform.ops.backups.manifest import Manifest
    from healthplatform.ops.backups.restore import (
        RestoreReport,
        after_health_restore,
        restore_database,
    )
    from healthplatform.storage import create_object_store

    settings, auth_settings, cfg = load(database)
    targets = database_targets(settings, auth_settings)
    if backup and database is Which.all:
        console.print("[red]--backup names one backup: add --database health or auth[/red]")
        raise typer.Exit(2)
    cutoff = before.replace(tzinfo=UTC) if before and before.tzinfo is None else before

    async def choose() -> dict[DatabaseName, Manifest]:
        async with open_backup_store(settings, cfg) as store:
            return {
                name: await find_backup(store, cfg.prefix, name, stamp=backup, before=cutoff)
                for name in database.names()
            }

    chosen = run(choose, "restore")
    for name, manifest in chosen.items():
        out.print(
            f"{name}: {manifest.dump_key} (taken {when(manifest.started_at)}, "
            f"{manifest.total_rows} rows) -> {shown_url(targets[name])}"
        )
    if not yes:
        typer.confirm("Restore these backups?", abort=True)

    async def work() -> list[RestoreReport]:
        reports = []
        async with open_backup_store(settings, cfg) as store:
            for name, manifest in chosen.items():
                with reporter() as report:
                    result = await restore_database(
                        targets[name], store, cfg, manifest, replace=replace, reporter=report
                    )
                    if name is DatabaseName.health:
                        lake = create_object_store(settings)
                        await lake.start()
                        try:
                            await after_health_restore(
                                targets[name],
                                store,
                                lake,
                                cfg,
                                result,
                                objects=objects,
                                reporter=report,
                                erasures=await erasure_log.entries(settings, lake),
                            )
                        finally:
                            await lake.close()
                reports.append(result)
        return reports

    reports = run(work, "restore")
    for result in reports:
        checks = result.checks.checks if result.checks else []
        failed = [f"{c.name}: {c.detail}" for c in checks if not c.ok]
        verdict = "[green]restored[/green]" if result.ok else "[red]restored with problems[/red]"
        out.print(
            f"{result.database}: {verdict} in {result.seconds:.1f} s"
            + (" (database created)" if result.created_database else "")
        )
        for line in failed:
            out.print(f"  [red]{line}[/red]")
        if result.erased is not None and result.erased.people:
            out.print(f"  erasure log applied: {result.erased}")
        if result.raw is not None:
            out.print(
                f"  raw uploads: {result.raw.copied} copied back, {result.raw.skipped} present, "
                f"{len(result.raw.missing)} missing, {len(result.raw.corrupt)} corrupt"
            )
        if result.training is not None:
            out.print(
                f"  training examples: {result.training.rebuilt} rebuilt, "
                f"{result.training.present} present, {result.training.stale} stale"
            )
        if result.requeued:
            out.print(f"  {result.requeued} unfinished uploads queued again")
        for note in result.notes:
            console.print(f"  [yellow]note:[/yellow] {note}")
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


@command("requeue")
def requeue_command() -> None:
    """Queue again the uploads the health database shows queued or processing.

    After a point-in-time restore their broker messages may be gone; each gets a new outbox
    event. Safe to repeat: processing an upload twice changes nothing."""
    from healthplatform.ops.backups.db import database_targets, open_engine
    from healthplatform.ops.backups.restore import requeue_unfinished

    settings, _, _ = load()
    target = database_targets(settings)[DatabaseName.health]

    async def work() -> int:
        async with open_engine(target.url) as engine:
            return await requeue_unfinished(engine)

    out.print(f"{run(work, 'requeue')} unfinished uploads queued again")


@command("status")
def status() -> None:
    """Print the recorded results (`status.json`) that the hp_backup_* metrics export."""
    from healthplatform.ops.backups.status import read_status

    settings, _, cfg = load()

    async def work() -> bytes:
        async with open_backup_store(settings, cfg) as store:
            return (await read_status(store, cfg.prefix)).to_json()

    sys.stdout.write(run(work, "status").decode() + "\n")


@command("settings")
def settings_command() -> None:
    """Print every HP_BACKUP_* variable with its default and meaning."""
    sys.stdout.write(reference_table())
