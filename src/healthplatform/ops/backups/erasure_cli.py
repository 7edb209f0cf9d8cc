"""`healthplatform backup apply-erasures`: the erasure log applied to a database restored
by other means (CloudNativePG point-in-time recovery, a volume snapshot). `backup restore`
applies it by itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from healthplatform.core.console import out, run
from healthplatform.ops.backups.console import load


def apply_erasures(
    restored_to: Annotated[
        datetime,
        typer.Option(
            formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"],
            help="UTC time the database was restored to (the PITR target or the snapshot's "
            "time): people erased after it are removed again.",
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove again everyone the erasure log says was erased after RESTORED_TO: every row
    with their key in the health database, their raw uploads and training examples in the
    data lake, their raw copies in the backup store. Safe to repeat."""
    from healthplatform.me import erasure_log
    from healthplatform.ops.backups.db import database_targets, open_engine
    from healthplatform.ops.backups.store import DatabaseName, open_backup_store
    from healthplatform.storage import create_object_store

    settings, _, cfg = load()
    moment = restored_to if restored_to.tzinfo else restored_to.replace(tzinfo=UTC)
    target = database_targets(settings)[DatabaseName.health]

    async def due() -> set[str]:
        return erasure_log.due(await erasure_log.entries(settings), moment)

    people = run(due, "apply-erasures")
    out.print(f"{len(people)} people were erased after {moment.isoformat()}")
    if not people:
        return
    if not yes:
        typer.confirm("Remove their data from the database, the lake and the backups?", abort=True)

    async def work() -> erasure_log.Applied:
        lake = create_object_store(settings)
        await lake.start()
        try:
            async with open_engine(target.url) as engine, open_backup_store(settings, cfg) as store:
                return await erasure_log.apply(
                    engine, lake, people, backup_store=store, backup_prefix=cfg.prefix
                )
        finally:
            await lake.close()

    out.print(f"erasure log applied: {run(work, 'apply-erasures')}")
