"""PostgreSQL client tools: finding ``pg_dump``/``pg_restore``, libpq connection strings
from the SQLAlchemy URLs, running the tools without putting the password on a command line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from sqlalchemy.engine import make_url

DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
# asyncpg's `ssl` takes libpq's sslmode names; these libpq parameters pass through as they are
_PASS_THROUGH = frozenset(
    {
        "sslmode",
        "sslrootcert",
        "sslcert",
        "sslkey",
        "sslcrl",
        "connect_timeout",
        "application_name",
        "options",
        "target_session_attrs",
        "host",
        "port",
    }
)
_SSLMODES = frozenset({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"})
_IDENTITY_VARIABLES = frozenset(
    {"PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSERVICE"}
)


class BackupToolError(Exception):
    """A PostgreSQL client tool is missing or failed; the message says what to do."""


@dataclass(frozen=True)
class LibpqTarget:
    """A libpq connection URL without the password, plus the password (for PGPASSWORD)."""

    url: str
    password: str | None
    database: str

    def env(self) -> dict[str, str]:
        """The process environment minus libpq variables that would pick another server,
        user or password than the URL (TLS variables such as PGSSLROOTCERT stay)."""
        env = {k: v for k, v in os.environ.items() if k not in _IDENTITY_VARIABLES}
        env["PGAPPNAME"] = "healthplatform-backup"
        env.setdefault("PGCONNECT_TIMEOUT", "10")
        if self.password:
            env["PGPASSWORD"] = self.password
        return env


def libpq_target(sqlalchemy_url: str, database: str | None = None) -> LibpqTarget:
    """``postgresql+asyncpg://u:p@h:5432/db?ssl=require`` -> ``postgresql://u@h:5432/db?sslmode=require``
    and the password apart. ``database`` replaces the database name."""
    url = make_url(sqlalchemy_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {url.render_as_string(hide_password=True)}")
    name = database or url.database
    if not name:
        raise ValueError("the database URL names no database")
    query: dict[str, str] = {}
    for key, value in url.query.items():
        text = value if isinstance(value, str) else value[-1]
        if key == "ssl" and text in _SSLMODES:
            query["sslmode"] = text
        elif key == "ssl" and text.lower() in ("true", "false"):
            query["sslmode"] = "require" if text.lower() == "true" else "disable"
        elif key in _PASS_THROUGH:
            query[key] = text
    user = quote(url.username, safe="") + "@" if url.username else ""
    host = url.host or ""
    if host and ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = f":{url.port}" if url.port else ""
    tail = f"?{urlencode(query)}" if query else ""
    return LibpqTarget(
        url=f"postgresql://{user}{host}{port}/{quote(name, safe='')}{tail}",
        password=url.password if url.password else None,
        database=name,
    )


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.name)) or (0,)


def find_tool(name: str, bin_dir: Path | None = None) -> Path:
    """``bin_dir`` if given, else ``PATH``, else the newest ``/usr/lib/postgresql/*/bin``."""
    if bin_dir is not None:
        candidate = bin_dir / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
        raise BackupToolError(f"{name} not found in HP_BACKUP_PG_BIN_DIR={bin_dir}")
    found = shutil.which(name)
    if found:
        return Path(found)
    versions = sorted(DEBIAN_PG_ROOT.glob("*/bin"), key=lambda p: _version_key(p.parent))
    for folder in reversed(versions):
        if (folder / name).is_file():
            return folder / name
    raise BackupToolError(
        f"{name} not found on PATH or in {DEBIAN_PG_ROOT}/*/bin: install the PostgreSQL "
        "client (Debian/Ubuntu: apt-get install postgresql-client; its major version must "
        "be at least the server's) or set HP_BACKUP_PG_BIN_DIR"
    )


async def run_tool(
    args: list[str], *, env: dict[str, str] | None = None, time_limit: float = 3600.0
) -> str:
    """Run a client tool; its stdout, or :class:`BackupToolError` with its stderr."""
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), time_limit)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip()[-2000:]
        raise BackupToolError(f"{Path(args[0]).name} failed (exit {proc.returncode}): {detail}")
    return out.decode(errors="replace")


async def tool_version(tool: Path) -> str:
    """``pg_dump (PostgreSQL) 17.6`` and the like."""
    return (await run_tool([str(tool), "--version"], time_limit=30)).strip()


async def pg_dump(
    tool: Path, target: LibpqTarget, out: Path, *, snapshot: str | None, time_limit: float
) -> None:
    """Custom-format dump of the whole database (ownership and grants are left out at
    restore time, so a dump restores under any role)."""
    args = [str(tool), "--format=custom", "--no-password", f"--file={out}"]
    if snapshot:
        args.append(f"--snapshot={snapshot}")
    args.append(f"--dbname={target.url}")
    await run_tool(args, env=target.env(), time_limit=time_limit)


async def pg_restore(tool: Path, target: LibpqTarget, dump: Path, *, time_limit: float) -> None:
    """Restore into an existing, empty database in one transaction (all or nothing)."""
    args = [
        str(tool),
        "--no-owner",
        "--no-acl",
        "--no-password",
        "--exit-on-error",
        "--single-transaction",
        f"--dbname={target.url}",
        str(dump),
    ]
    await run_tool(args, env=target.env(), time_limit=time_limit)
