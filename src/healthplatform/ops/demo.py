"""`healthplatform demo`: load sample files into an existing local account.

Passkeys are the only way in, so the demo account is one you create in the web app first;
this command then uploads files for it through the same upload service the API uses. The
real phone exports in shared/samples are used when present, else a synthetic week.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from healthplatform.auth.db import create_auth_engine, create_auth_sessionmaker
from healthplatform.auth.repository import get_user_by_username
from healthplatform.auth.settings import AuthSettings
from healthplatform.healthconnect.synth import synthetic_file
from healthplatform.runtime import open_resources
from healthplatform.settings import Settings
from healthplatform.uploads.service import Accepted, accept_upload

DAY_MS = 86_400_000
WEEK_START_MS = 1_758_326_400_000  # 2025-09-20 00:00 UTC
SYNTHETIC_DAY = [
    ("BloodGlucoseRecord", 288, 300_000),
    ("HeartRateRecord", 96, 900_000),
    ("StepsRecord", 24, 3_600_000),
    ("SleepSessionRecord", 1, 28_800_000),
    ("ActiveCaloriesBurnedRecord", 24, 3_600_000),
]


class DemoError(Exception):
    """The demo cannot run (no such account)."""


def sample_files(folder: Path | None) -> Iterator[tuple[str, bytes]]:
    if folder is not None and folder.is_dir() and any(folder.glob("*.avro")):
        for path in sorted(folder.glob("*.avro")):
            yield path.name, path.read_bytes()
        return
    for day in range(7):
        start = WEEK_START_MS + day * DAY_MS
        for record_type, count, step in SYNTHETIC_DAY:
            data = synthetic_file(record_type, count, seed=day, start_ms=start, step_ms=step)
            yield f"{record_type}_{start}.avro", data


async def user_subject(auth_settings: AuthSettings, username: str) -> str:
    engine = create_auth_engine(auth_settings, application_name="healthplatform-demo")
    try:
        async with create_auth_sessionmaker(engine)() as session:
            user = await get_user_by_username(session, username)
    finally:
        await engine.dispose()
    if user is None:
        raise DemoError(f"no account named {username!r}: sign up in the web app first")
    return str(user.id)


async def load_demo(
    settings: Settings,
    auth_settings: AuthSettings,
    username: str,
    files: list[tuple[str, bytes]],
    progress: Callable[[str, Accepted], None] | None = None,
) -> list[Accepted]:
    subject = await user_subject(auth_settings, username)
    accepted = []
    async with open_resources(settings, "demo") as res:
        for name, data in files:
            result = await accept_upload(res, subject, name, data, "demo data")
            accepted.append(result)
            if progress is not None:
                progress(name, result)
    return accepted
