"""`healthplatform reprocess`: the command (registered by ``healthplatform.cli``)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from healthplatform.core.console import console, out, reflowed_help, reporter, run
from healthplatform.ops.backups.console import load


def reprocess(
    user: Annotated[
        str | None,
        typer.Option("--user", help="Token `sub` of the one user whose data is rebuilt."),
    ] = None,
    all_users: Annotated[bool, typer.Option("--all", help="Rebuild every user's data.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool,
        typer.Option(help="Also users with uploads still queued or processing (else skipped)."),
    ] = False,
) -> None:
    """Rebuild derived data from the raw uploads (the ETL worker does the work).

    Per user: delete the observations, daily metrics, narratives and training examples and
    queue every upload again in upload order, in one transaction. Idempotent; erased users
    stay erased; users whose uploads are still queued or processing are skipped."""
    from healthplatform.core.identity import user_key
    from healthplatform.db.engine import create_engine
    from healthplatform.ops.backups import reprocess as reprocessing
    from healthplatform.storage import create_object_store

    if (user is None) == (not all_users):
        console.print("[red]give exactly one of --user SUB or --all[/red]")
        raise typer.Exit(2)
    settings = load()[0]

    async def work() -> list[reprocessing.UserResult]:
        engine = create_engine(settings, application_name="healthplatform-reprocess")
        store = create_object_store(settings)
        await store.start()
        try:
            users = [user_key(user)] if user else await reprocessing.all_users(engine, store)
            if not yes:
                question = f"Delete the derived data of {len(users)} user(s) and rebuild it?"
                if not await asyncio.to_thread(typer.confirm, question):
                    raise typer.Exit(1)
            with reporter() as report:
                bar = report.bar("users")
                bar.total(len(users))
                return await reprocessing.reprocess(
                    engine, store, users, force=force, advance=lambda _: bar.advance()
                )
        finally:
            await store.close()
            await engine.dispose()

    results = run(work, "reprocess")
    skipped = [r for r in results if r.skipped]
    queued = sum(r.uploads for r in results)
    out.print(
        f"{len(results) - len(skipped)} users: {queued} uploads queued, "
        f"{sum(r.derived_rows for r in results)} derived rows and "
        f"{sum(r.training_objects for r in results)} training examples deleted; "
        "the ETL worker rebuilds them"
    )
    if skipped:
        console.print(
            f"[yellow]{len(skipped)} users skipped: uploads still queued or processing "
            "(wait for the worker, or pass --force)[/yellow]"
        )


reprocess.__doc__ = reflowed_help(reprocess)  # the help shows each paragraph on one line
