"""Counting a block's values before it is decoded.

A scanner walks the binary encoding of a block with the writer's (canonical) schema without
building any value: it reads lengths and counts, checks each against what is left of the
block, and counts every array and map item. A block count above ``max_block_items`` is
refused when it is read (a count of 2^62 costs one varint), so are more items than that in
one record (fastavro decodes a record in one call that holds the GIL), the file's items
above ``max_items``, and the thread's CPU time above its budget (checked every array block and
every few hundred records), so a scan ends in bounded time whatever the file says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ScanFn = Callable[["Scan"], None]


class ScanRefused(Exception):
    """The block breaks a limit or is not a valid encoding; ``str()`` says which."""


class NeedMore(ScanRefused):
    """A prefix of a block was scanned to its end without breaking a limit."""


@dataclass(frozen=True)
class Limits:
    max_block_items: int
    max_items: int
    cpu_seconds: float


class Scan:
    """The state of one file's scan: position in the current block, the file's item count
    and its CPU deadline (``time.thread_time``: this thread's CPU time, not wall time)."""

    __slots__ = ("data", "deadline", "items", "limits", "partial", "pos", "record_items")

    def __init__(self, limits: Limits) -> None:
        self.data = b""
        self.pos = 0
        self.items = 0
        self.record_items = 0
        self.partial = False
        self.limits = limits
        self.deadline = time.thread_time() + limits.cpu_seconds

    def check_time(self) -> None:
        if time.thread_time() > self.deadline:
            raise ScanRefused(f"reading the file needs more than {self.limits.cpu_seconds} s CPU")

    def long(self) -> int:
        data, pos, shift, result = self.data, self.pos, 0, 0
        while True:
            if pos >= len(data) or shift > 63:
                raise self.end("truncated or corrupt number")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                self.pos = pos
                return (result >> 1) ^ -(result & 1)
            shift += 7

    def skip(self, size: int) -> None:
        if size < 0:
            raise ScanRefused("negative length")
        if self.pos + size > len(self.data):
            raise self.end("a length runs past the end of the block")
        self.pos += size

    def block_count(self, item_width: int) -> int:
        """One array/map block's item count (0 ends the array), checked before any item."""
        count = self.long()
        if count < 0:
            count = -count
            self.long()  # the block's size in bytes: not trusted
        limit = self.limits.max_block_items
        if count > limit:
            raise ScanRefused(f"an array or map block of {count} items (limit {limit})")
        if count * item_width > len(self.data) - self.pos:
            raise self.end(f"an array or map block of {count} items runs past the block")
        self.record_items += count
        if self.record_items > limit:
            raise ScanRefused(f"a record with more than {limit} array or map items")
        self.add_items(count)
        self.check_time()
        return count

    def add_items(self, count: int) -> None:
        """Count items towards the file's limit (also for blocks decoded unscanned)."""
        self.items += count
        if self.items > self.limits.max_items:
            raise ScanRefused(f"more than {self.limits.max_items} array or map items in the file")

    def end(self, message: str) -> ScanRefused:
        """Running out of data: an error, or the end of a prefix."""
        return NeedMore(message) if self.partial else ScanRefused(message)

    def prefix(self, data: bytes, records: int, record: ScanFn) -> None:
        """Scan the first bytes of a large block as they are decompressed: a limit broken
        there refuses the block before the rest is inflated (120 M booleans deflate to
        122 KB: inflating them first took 250 MB). Counts are not kept."""
        items, self.partial = self.items, True
        try:
            self.block(data, records, record)
        except NeedMore:
            pass
        finally:
            self.items, self.partial = items, False

    def block(self, data: bytes, records: int, record: ScanFn) -> None:
        """Scan one container block of ``records`` records; it must be consumed exactly."""
        self.data, self.pos = data, 0
        for index in range(records):
            self.record_items = 0
            record(self)
            if index & 255 == 255:
                self.check_time()
        if self.pos != len(data) and not self.partial:  # a prefix: the full read decides
            raise ScanRefused("block has trailing bytes (corrupt block)")


def _noop(s: Scan) -> None:
    return None


def _long(s: Scan) -> None:
    s.long()


def _sized(s: Scan) -> None:
    s.skip(s.long())


def _fixed(size: int) -> ScanFn:
    def scan(s: Scan) -> None:
        s.skip(size)

    return scan


def _enum(symbols: int) -> ScanFn:
    def scan(s: Scan) -> None:
        if not 0 <= s.long() < symbols:
            raise ScanRefused("enum index out of range")

    return scan


def _union(branches: list[ScanFn]) -> ScanFn:
    def scan(s: Scan) -> None:
        index = s.long()
        if not 0 <= index < len(branches):
            raise ScanRefused("union branch out of range")
        branches[index](s)

    return scan


def _record(fields: list[ScanFn]) -> ScanFn:
    def scan(s: Scan) -> None:
        for field in fields:
            field(s)

    return scan


def _repeated(item: ScanFn, width: int, keyed: bool) -> ScanFn:
    def scan(s: Scan) -> None:
        while count := s.block_count(width):
            for start in range(0, count, 4096):  # the CPU budget is checked within a block
                for _ in range(min(4096, count - start)):
                    if keyed:
                        s.skip(s.long())
                    item(s)
                s.check_time()

    return scan


_PRIMITIVE: dict[str, ScanFn] = {
    "null": _noop,
    "boolean": _fixed(1),
    "int": _long,
    "long": _long,
    "float": _fixed(4),
    "double": _fixed(8),
    "bytes": _sized,
    "string": _sized,
}


def compile_scanner(canonical: Any, min_item_width: int) -> ScanFn:
    """A scanner for a schema in Parsing Canonical Form (names fully qualified, defined
    before use, not recursive: :mod:`writer_schema` checked that)."""
    named: dict[str, ScanFn] = {}

    def build(t: Any) -> ScanFn:
        if isinstance(t, str):
            return _PRIMITIVE.get(t) or named[t]
        if isinstance(t, list):
            return _union([build(b) for b in t])
        kind = t["type"]
        if kind in _PRIMITIVE:
            return _PRIMITIVE[kind]
        if kind == "array":
            return _repeated(build(t["items"]), min_item_width, keyed=False)
        if kind == "map":
            return _repeated(build(t["values"]), min_item_width, keyed=True)
        if kind == "fixed":
            fn = _fixed(int(t["size"]))
        elif kind == "enum":
            fn = _enum(len(t["symbols"]))
        else:
            fn = _record([build(f["type"]) for f in t["fields"]])
        named[t["name"]] = fn
        return fn

    return build(canonical)
