"""Streaming multipart/form-data reader with a hard byte limit.

The body is parsed as it arrives, so an oversized upload is refused after ``max_bytes``
have been read, never buffered whole. Only small text fields and one file part are kept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from healthplatform.core.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

MAX_FIELD_BYTES = 4096
MAX_PARTS = 8


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)


@dataclass
class FormData:
    fields: dict[str, str]
    files: dict[str, tuple[str, bytes]]  # field -> (filename, content)


def boundary_of(content_type: str | None) -> bytes:
    kind, params = parse_options_header(content_type or "")
    if kind != b"multipart/form-data":
        raise UnsupportedMediaType("expected multipart/form-data with a `file` field")
    boundary = params.get(b"boundary")
    if not boundary or len(boundary) > 200:
        raise BadRequest("multipart boundary missing or invalid")
    return boundary


async def read_form(
    chunks: AsyncIterator[bytes], content_type: str | None, max_bytes: int
) -> FormData:
    boundary = boundary_of(content_type)
    parts: list[_Part] = []
    header_field = bytearray()
    header_value = bytearray()
    total = 0

    def on_part_begin() -> None:
        if len(parts) >= MAX_PARTS:
            raise BadRequest("too many multipart parts")
        parts.append(_Part())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        # latin-1 keeps the raw bytes; names are decoded as UTF-8 once parsed
        parts[-1].headers[header_field.decode("latin-1").lower()] = header_value.decode("latin-1")
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        part = parts[-1]
        _, params = parse_options_header(
            part.headers.get("content-disposition", "").encode("latin-1")
        )
        part.name = params.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = params.get(b"filename")
        part.filename = (
            raw_filename.decode("utf-8", "replace") if raw_filename is not None else None
        )

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = parts[-1]
        part.data.extend(data[start:end])
        if part.filename is None and len(part.data) > MAX_FIELD_BYTES:
            raise BadRequest(f"form field {part.name!r} is too long")

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
        },
    )
    try:
        async for chunk in chunks:
            total += len(chunk)
            if total > max_bytes:
                raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise BadRequest(f"malformed multipart body: {exc}") from exc

    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in parts:
        if part.filename is not None:
            files.setdefault(part.name, (part.filename, bytes(part.data)))
        else:
            fields.setdefault(part.name, part.data.decode("utf-8", "replace"))
    return FormData(fields, files)
