"""A folder as object store, for local runs. Writes are atomic (temp file + rename)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from healthplatform.storage.base import ObjectInfo, ObjectNotFound, ObjectStoreError, check_key


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        return None

    async def put(
        self, key: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

        try:
            await asyncio.to_thread(write)
        except OSError as exc:
            raise ObjectStoreError(str(exc)) from exc

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        except OSError as exc:
            raise ObjectStoreError(str(exc)) from exc

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    async def delete_prefix(self, prefix: str) -> int:
        keys = [info.key async for info in self.list(prefix)]
        for key in keys:
            await self.delete(key)
        base = self.root / check_key(prefix.rstrip("/"))
        if base.is_dir():
            await asyncio.to_thread(shutil.rmtree, base, True)
        return len(keys)

    async def list(self, prefix: str) -> AsyncIterator[ObjectInfo]:
        def scan() -> list[ObjectInfo]:
            found = []
            for dirpath, _dirs, files in os.walk(self.root):
                for name in files:
                    if name.startswith(".tmp-"):
                        continue
                    full = Path(dirpath) / name
                    key = full.relative_to(self.root).as_posix()
                    if key.startswith(prefix):
                        st = full.stat()
                        found.append(
                            ObjectInfo(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC))
                        )
            return sorted(found, key=lambda o: o.key)

        for info in await asyncio.to_thread(scan):
            yield info

    async def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise ObjectStoreError(f"{self.root} is not writable")
