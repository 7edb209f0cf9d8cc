"""Backup pieces without servers: URL conversion, tool lookup, rotation policy, manifests,
checksums, status and metrics, settings and the command line."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from prometheus_client import REGISTRY
from pydantic import ValidationError
from typer.testing import CliRunner

from healthplatform.ops.backups import pg as backup_pg
from healthplatform.ops.backups.cli import backup_cli, reprocess
from healthplatform.ops.backups.manifest import Manifest, ManifestError, count_differences
from healthplatform.ops.backups.pg import BackupToolError, find_tool, libpq_target
from healthplatform.ops.backups.raw import expected_sha256, intact
from healthplatform.ops.backups.rotation import expired, group_backups
from healthplatform.ops.backups.settings import BackupSettings, reference_table
from healthplatform.ops.backups.status import (
    BackupStatus,
    export_status_metrics,
    record_backup,
    record_verify,
)
from healthplatform.ops.backups.store import parse_stamp, stamp
from healthplatform.ops.backups.verify import matches_checksum
from healthplatform.storage.local import LocalObjectStore

NOW = datetime(2026, 11, 26, 2, 15, tzinfo=UTC)


# --- URL conversion -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected", "password"),
    [
        (
            "postgresql+asyncpg://health:s3cr%40t@pg-rw:5432/health",
            "postgresql://health@pg-rw:5432/health",
            "s3cr@t",
        ),
        (
            "postgresql+asyncpg://u@db/app?ssl=require&prepared_statement_cache_size=0",
            "postgresql://u@db/app?sslmode=require",
            None,
        ),
        (
            "postgresql://u:p@[::1]:6543/x?sslmode=verify-full",
            "postgresql://u@[::1]:6543/x?sslmode=verify-full",
            "p",
        ),
        ("postgresql+asyncpg://u:p@h/db?ssl=true", "postgresql://u@h/db?sslmode=require", "p"),
        ("postgresql+psycopg://we%20ird@h/d%2Fb", "postgresql://we%20ird@h/d%2Fb", None),
    ],
)
def test_libpq_url_from_sqlalchemy_url(url: str, expected: str, password: str | None) -> None:
    target = libpq_target(url)
    assert (target.url, target.password) == (expected, password)
    assert "PGPASSWORD" not in target.env() or target.password


def test_libpq_target_other_database_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGDATABASE", "elsewhere")
    monkeypatch.setenv("PGSSLROOTCERT", "/ca.pem")
    target = libpq_target("postgresql+asyncpg://u:pw@h:5432/health", database="hp_verify_1")
    assert target.url == "postgresql://u@h:5432/hp_verify_1" and target.database == "hp_verify_1"
    env = target.env()
    assert env["PGPASSWORD"] == "pw" and "PGDATABASE" not in env
    assert env["PGSSLROOTCERT"] == "/ca.pem"


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:///x.db", "postgresql+asyncpg://u@h"])
def test_libpq_target_refuses_what_it_cannot_convert(url: str) -> None:
    with pytest.raises(ValueError):
        libpq_target(url)


# --- finding pg_dump ----------------------------------------------------------------------------


def _tool(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_missing_pg_dump_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(backup_pg, "DEBIAN_PG_ROOT", tmp_path / "none")
    with pytest.raises(BackupToolError, match="postgresql-client") as info:
        find_tool("pg_dump")
    assert "HP_BACKUP_PG_BIN_DIR" in str(info.value)
    with pytest.raises(BackupToolError, match="HP_BACKUP_PG_BIN_DIR"):
        find_tool("pg_dump", tmp_path)


def test_tool_lookup_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    root = tmp_path / "postgresql"
    for version in ("9.6", "15", "17"):
        _tool(root / version / "bin", "pg_dump")
    monkeypatch.setattr(backup_pg, "DEBIAN_PG_ROOT", root)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_tool("pg_dump") == root / "17/bin/pg_dump"  # the newest client
    on_path = _tool(tmp_path / "bin", "pg_dump")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert find_tool("pg_dump") == on_path
    assert find_tool("pg_dump", root / "15/bin") == root / "15/bin/pg_dump"


def test_failing_tool_reports_its_stderr(tmp_path: Path) -> None:
    tool = tmp_path / "pg_dump"
    tool.write_text("#!/bin/sh\necho 'server version mismatch' >&2\nexit 1\n")
    tool.chmod(0o755)
    with pytest.raises(BackupToolError, match=r"exit 1.*server version mismatch"):
        asyncio.run(backup_pg.run_tool([str(tool)]))


# --- rotation -----------------------------------------------------------------------------------


def _keys(database: str, kind: str, moment: datetime, *, manifest: bool = True) -> list[str]:
    base = f"backups/{database}/{kind}/{stamp(moment)}"
    return [f"{base}.dump", *([f"{base}.manifest.json"] if manifest else [])]


def test_rotation_keeps_the_newest_per_kind() -> None:
    keys = ["backups/status.json", "backups/raw/u/x.avro"]
    for day in range(10):
        kind = "weekly" if day % 7 == 0 else "daily"
        keys += _keys("health", kind, NOW - timedelta(days=day))
        keys += _keys("auth", kind, NOW - timedelta(days=day))
    backups = group_backups(keys, "backups/")
    assert len(backups) == 20 and all(b.complete for b in backups)
    doomed = expired(backups, {"daily": 3, "weekly": 1}, NOW)
    kept = [b for b in backups if b not in doomed]
    for database in ("health", "auth"):
        mine = [b for b in kept if b.database == database]
        assert [b.taken_at for b in mine if b.kind == "daily"] == [
            NOW - timedelta(days=d) for d in (3, 2, 1)
        ]
        assert [b.taken_at for b in mine if b.kind == "weekly"] == [NOW]


def test_rotation_deletes_stale_incomplete_backups_and_keeps_the_newest_complete() -> None:
    keys = _keys("health", "weekly", NOW - timedelta(days=3))
    keys += _keys("health", "daily", NOW - timedelta(days=2), manifest=False)  # died mid-way
    keys += _keys("health", "daily", NOW - timedelta(hours=1), manifest=False)  # maybe running
    keys += ["backups/health/daily/20261101T000000.000Z.manifest.json"]  # dump deleted
    keys += ["backups/health/daily/not-a-stamp.dump", "backups/health/monthly/x.dump"]
    backups = group_backups(keys, "backups/")
    doomed = expired(backups, {"daily": 1, "weekly": 0}, NOW)
    assert [(b.kind, b.taken_at) for b in doomed] == [
        ("daily", datetime(2026, 11, 1, tzinfo=UTC)),
        ("daily", NOW - timedelta(days=2)),
    ]  # the only complete backup stays although weekly keeps 0


def test_stamps_sort_and_round_trip() -> None:
    moments = [NOW, NOW + timedelta(milliseconds=1), NOW + timedelta(seconds=1)]
    stamps = [stamp(m) for m in moments]
    assert stamps == sorted(stamps) and stamps[0] == "20261126T021500.000Z"
    assert [parse_stamp(s) for s in stamps] == moments


# --- manifests and checksums ------------------------------------------------------------------


def _manifest(**changes: object) -> Manifest:
    fields: dict[str, object] = {
        "database": "health",
        "kind": "daily",
        "dump_key": "backups/health/daily/20261126T021500.000Z.dump",
        "format": "pg_dump-custom",
        "sha256": "",
        "size_bytes": 0,
        "row_counts": {"uploads": 2, "alembic_version": 1},
        "alembic_revision": "0002",
        "started_at": NOW,
        "finished_at": NOW + timedelta(seconds=3),
        "dump_tool": "pg_dump (PostgreSQL) 17.6",
        "server_version": "17.6",
        "app_version": "0.1.0",
    }
    fields.update(changes)
    return Manifest(**fields)  # type: ignore[arg-type]


def test_manifest_round_trip_and_malformed_manifests() -> None:
    manifest = _manifest()
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert manifest.key == "backups/health/daily/20261126T021500.000Z.manifest.json"
    body = json.loads(manifest.to_json())
    for broken in ({**body, "schema": 99}, {**body, "row_counts": {"x": "many"}}, {"schema": 1}):
        with pytest.raises(ManifestError):
            Manifest.from_json(json.dumps(broken).encode())
    with pytest.raises(ManifestError):
        Manifest.from_json(b"not json")


def test_checksum_detects_any_change() -> None:
    import hashlib

    data = os.urandom(4096)
    manifest = _manifest(sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data))
    assert matches_checksum(data, manifest)[0]
    flipped = bytearray(data)
    flipped[100] ^= 1
    assert not matches_checksum(bytes(flipped), manifest)[0]
    assert "size" in matches_checksum(data[:-1], manifest)[1]


def test_row_count_differences() -> None:
    assert count_differences({"a": 1}, {"a": 1}) == []
    assert count_differences({"a": 1, "b": 2}, {"a": 0, "c": 5}) == [
        "a: expected 1, found 0",
        "b: expected 2, found no table",
        "c: expected no table, found 5",
    ]


def test_raw_keys_carry_their_checksum() -> None:
    import hashlib

    data = b"avro bytes"
    key = f"raw/u/StepsRecord/2025/09/20/{hashlib.sha256(data).hexdigest()}.avro"
    assert expected_sha256(key) == hashlib.sha256(data).hexdigest()
    assert intact(key, data) and not intact(key, data + b"!")
    assert expected_sha256("raw/u/x.avro") is None and intact("raw/u/x.avro", b"")


# --- status and metrics -------------------------------------------------------------------------


def test_status_records_results_and_exports_gauges(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)

    async def scenario() -> BackupStatus:
        await store.start()
        await export_status_metrics(store, "backups/")  # nothing yet: zeros, not absent
        assert (
            REGISTRY.get_sample_value(
                "hp_backup_last_success_timestamp_seconds", {"database": "auth"}
            )
            == 0
        )
        await record_backup(store, "backups/", "health", key="k1", error=None)
        await record_backup(store, "backups/", "health", key=None, error="disk full")
        await record_verify(store, "backups/", "health", key="k1", error=None)
        return await export_status_metrics(store, "backups/")

    status = asyncio.run(scenario())
    entry = status.database("health")
    assert entry.last_backup_ok is False and entry.last_backup_error == "disk full"
    assert entry.last_success_at and entry.last_verify_ok
    labels = {"database": "health"}
    assert REGISTRY.get_sample_value(
        "hp_backup_last_success_timestamp_seconds", labels
    ) == pytest.approx(entry.last_success_at)
    assert REGISTRY.get_sample_value("hp_backup_last_verify_ok", labels) == 1
    assert BackupStatus.from_json(status.to_json()) == status

    async def unreadable() -> BackupStatus:
        await store.put("other/status.json", b"{not json")
        return await export_status_metrics(store, "other/")

    assert asyncio.run(unreadable()).databases == {}
    assert REGISTRY.get_sample_value("hp_backup_last_verify_ok", labels) == 0


# --- settings and CLI ---------------------------------------------------------------------------


def test_backup_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HP_BACKUP_BUCKET", "hp-backups")
    monkeypatch.setenv("HP_BACKUP_KEEP_DAILY", "3")
    cfg = BackupSettings()
    assert (cfg.bucket, cfg.keep_daily, cfg.prefix) == ("hp-backups", 3, "backups/")
    for bad in ("backups", "/abs/", "../x/", "a//b/"):
        with pytest.raises(ValidationError):
            BackupSettings(prefix=bad)


def test_every_backup_setting_is_described() -> None:
    table = reference_table()
    for name, field in BackupSettings.model_fields.items():
        assert field.description, name
        assert f"`HP_BACKUP_{name.upper()}`" in table
    doc = (Path(__file__).resolve().parents[2] / "docs/backup.md").read_text()
    assert table in doc, "docs/backup.md: paste `healthplatform backup settings`"


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(backup_cli, name="backup")
    app.command("reprocess")(reprocess)
    return app


def test_help_explains_every_command() -> None:
    runner = CliRunner()
    top = runner.invoke(_app(), ["backup", "--help"])
    assert top.exit_code == 0
    for command in ("create", "list", "verify", "restore", "status", "settings"):
        assert command in top.output
        help_text = runner.invoke(_app(), ["backup", command, "--help"])
        assert help_text.exit_code == 0, command
    assert "postgresql-client" in runner.invoke(_app(), ["backup", "create", "--help"]).output
    assert "--all" in runner.invoke(_app(), ["reprocess", "--help"]).output


def test_cli_refuses_ambiguous_requests(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HP_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    assert runner.invoke(_app(), ["reprocess"]).exit_code == 2
    assert runner.invoke(_app(), ["reprocess", "--all", "--user", "x"]).exit_code == 2
    both = runner.invoke(_app(), ["backup", "verify", "--backup", "20261126T021500.000Z"])
    assert both.exit_code == 2 and "--database" in both.output
    monkeypatch.setenv("HP_BACKUP_KEEP_DAILY", "0")
    assert runner.invoke(_app(), ["backup", "list"]).exit_code == 2


async def test_raw_copies_count_missing_and_corrupt_objects_both_ways(tmp_path: Path) -> None:
    """Backup and restore of raw uploads copy intact objects and report, under the lake key,
    the ones that vanished or whose bytes no longer match the SHA-256 in their key."""
    from healthplatform.ops.backups.raw import backup_raw_objects, restore_raw_objects
    from healthplatform.ops.backups.store import raw_copy_key
    from healthplatform.storage.local import LocalObjectStore

    lake, backups = LocalObjectStore(tmp_path / "lake"), LocalObjectStore(tmp_path / "backups")
    await lake.start()
    await backups.start()

    def raw_key(body: bytes) -> str:
        return f"raw/u/StepsRecord/2025/09/20/{hashlib.sha256(body).hexdigest()}.avro"

    good, bad = raw_key(b"good"), raw_key(b"bad")
    await lake.put(good, b"good")
    await lake.put(bad, b"tampered")
    backed = await backup_raw_objects(lake, backups, "p/", lake_keys={good, bad, raw_key(b"x")})
    assert (backed.copied, backed.corrupt, backed.missing) == (1, [bad], [raw_key(b"x")])

    await lake.delete(good)
    restored = await restore_raw_objects(lake, backups, "p/", [good, bad, raw_key(b"y")])
    assert (restored.copied, restored.skipped, restored.missing) == (1, 1, [raw_key(b"y")])
    assert await lake.get(good) == b"good"

    await lake.delete(good)
    await backups.put(raw_copy_key("p/", good), b"tampered")
    again = await restore_raw_objects(lake, backups, "p/", [good])
    assert (again.copied, again.corrupt) == (0, [good])
