"""Embedded databases are private: `health.db`/`auth.db` 0600 in a 0700 folder, whatever
the umask, and an existing world-readable one is tightened on start."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from healthplatform.auth.settings import AuthSettings
from healthplatform.db.engine import create_auth_engine, create_engine
from healthplatform.settings import Settings


@pytest.fixture
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the usual default: files 0644, folders 0755
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.usefixtures("open_umask")
async def test_new_databases_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engines = [
        create_engine(Settings(data_dir=data)),
        create_auth_engine(AuthSettings(data_dir=data)),
    ]
    for engine in engines:
        async with engine.begin() as conn:  # WAL mode: -wal and -shm appear
            await conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            assert mode(data) == 0o700
            files = sorted(p.name for p in data.iterdir())
            for name in files:
                assert mode(data / name) == 0o600, (name, oct(mode(data / name)))
        await engine.dispose()
    assert {"health.db", "auth.db"} <= set(files)


@pytest.mark.usefixtures("open_umask")
async def test_existing_open_databases_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "health.db").touch(mode=0o644)
    (data / "health.db-wal").touch(mode=0o666)
    os.chmod(data / "health.db-wal", 0o666)
    engine = create_engine(Settings(data_dir=data))
    await engine.dispose()
    assert mode(data) == 0o700
    assert mode(data / "health.db") == 0o600 and mode(data / "health.db-wal") == 0o600
