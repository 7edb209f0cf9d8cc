"""`healthplatform demo`: load sample files into an existing local account.

Passkeys are the only way in, so the demo account is one you create in the web app first;
this command then uploads files for it through the same upload service the API uses. The
real phone exports in shared/samples are used when present, else the synthetic sample week
(labelled as sample data, as the web app's "Try sample data";
``uploads.SAMPLE_DESCRIPTION``). ``load_demo`` raises ``auth.subjects.UnknownUser`` for an
account that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from healthplatform.auth.settings import AuthSettings
from healthplatform.auth.subjects import user_subject
from healthplatform.core.identity import user_key
from healthplatform.me.samples import sample_week
from healthplatform.runtime import open_resources
from healthplatform.settings import Settings
from healthplatform.uploads.service import Accepted, accept_upload


def has_files(folder: Path | None) -> bool:
    return folder is not None and folder.is_dir() and any(folder.glob("*.avro"))


def sample_files(folder: Path | None) -> Iterator[tuple[str, bytes]]:
    """The folder's .avro files, else the synthetic sample week of the web app's "Try
    sample data" (the same bytes every time: loading it twice doubles nothing)."""
    if folder is not None and has_files(folder):
        for path in sorted(folder.glob("*.avro")):
            yield path.name, path.read_bytes()
        return
    yield from sample_week()


async def load_demo(
    settings: Settings,
    auth_settings: AuthSettings,
    username: str,
    files: list[tuple[str, bytes]],
    progress: Callable[[str, Accepted], None] | None = None,
    description: str = "demo data",
) -> list[Accepted]:
    subject = await user_subject(auth_settings, username)
    accepted = []
    async with open_resources(settings, "demo") as res:
        for name, data in files:
            result = await accept_upload(res, user_key(subject), name, data, description)
            accepted.append(result)
            if progress is not None:
                progress(name, result)
    return accepted
