"""`healthplatform verify` and `healthplatform rederive` (registered by ``healthplatform.cli``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from healthplatform.core.console import console, out, reflowed_help, reporter, run

UserOpt = Annotated[
    str | None, typer.Option("--user", help="Token `sub` of one user (default: every user).")
]


def verify(
    user: UserOpt = None,
    first: Annotated[
        str | None, typer.Option("--from", help="First local day (YYYY-MM-DD) to check.")
    ] = None,
    last: Annotated[str | None, typer.Option("--to", help="Last local day to check.")] = None,
) -> None:
    """Re-check every number of the published narratives against the stored observations.

    The verifier recomputes each claim its own way (it shares no code with the metrics)
    and checks that the text shows it. Prints verified/total claims; exits 1 when a claim
    fails, listing the first failures."""
    from healthplatform.core.identity import user_key
    from healthplatform.ops.audit import Verified, users_with_narratives, verify_stored
    from healthplatform.runtime import open_resources
    from healthplatform.settings import Settings

    try:
        span = (
            date.fromisoformat(first) if first else None,
            date.fromisoformat(last) if last else None,
        )
    except ValueError as exc:
        console.print(f"[red]--from/--to: {exc} (use YYYY-MM-DD)[/red]")
        raise typer.Exit(2) from exc
    settings = Settings()

    async def work() -> Verified:
        async with open_resources(settings, "verify") as res:
            users = [user_key(user)] if user else await users_with_narratives(res)
            with reporter() as report:
                bar = report.bar("users")
                bar.total(len(users))
                return await verify_stored(res, users, span[0], span[1], advance=bar.advance)

    result = run(work, "verify")
    r = result.report
    out.print(
        f"{r.verified}/{r.total} claims verified in {result.narratives} narratives"
        + (f"; {len(r.failures)} failed" if r.failures else "")
    )
    for key, failure in result.failed[:20]:
        console.print(f"[red]{key}[/red] {failure.metric} = {failure.claimed!r}: {failure.reason}")
    if r.failures:
        raise typer.Exit(1)


def rederive(
    user: UserOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Derive every stored day again from the stored observations, after a change of the
    metric definitions (no upload is decoded again; `reprocess` rebuilds from the raw files).

    Per user, in one transaction holding the user's lock: place the records again, then
    recompute every day's metrics, journal and training example."""
    from healthplatform.core.identity import user_key
    from healthplatform.etl.pipeline import rederive_user
    from healthplatform.ops.audit import users_with_narratives
    from healthplatform.runtime import open_resources
    from healthplatform.settings import Settings

    settings = Settings()

    async def work() -> int:
        async with open_resources(settings, "rederive") as res:
            users = [user_key(user)] if user else await users_with_narratives(res)
            if not yes and not typer.confirm(f"Derive the days of {len(users)} user(s) again?"):
                raise typer.Exit(1)
            days = 0
            with reporter() as report:
                bar = report.bar("users")
                bar.total(len(users))
                for key in users:
                    days += await rederive_user(res, key, all_days=True)
                    bar.advance()
            return days

    out.print(f"{run(work, 'rederive')} days derived again")


verify.__doc__ = reflowed_help(verify)
rederive.__doc__ = reflowed_help(rederive)
