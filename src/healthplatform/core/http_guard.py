"""uvicorn's HTTP/1.1 protocol (httptools) with the two limits it lacks: a deadline for the
request head and a cap on its size.

- Head deadline: a connection must send a complete request line and headers within
  ``HEADER_TIMEOUT_SECONDS`` of connecting or of the first byte of each further request
  (keep-alive idleness stays uvicorn's ``timeout_keep_alive``). Otherwise the server answers
  408 and closes: a client dribbling one header byte at a time (slowloris), or connecting
  and sending nothing, no longer holds a connection for ever.
- Head size: request line plus header names and values above ``MAX_HEADER_BYTES`` get 431
  and the connection is closed (httptools itself has no limit).
"""

from __future__ import annotations

from asyncio import TimerHandle, Transport

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT_SECONDS = 10.0
MAX_HEADER_BYTES = 32 * 1024


class _HeadRefused(Exception):
    """Raised from a parser callback to stop parsing a refused request head."""


def _close_with(transport: Transport, status: bytes, text: bytes) -> None:
    transport.write(
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(text)).encode() + b"\r\nconnection: close\r\n\r\n" + text
    )
    transport.close()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout: float = HEADER_TIMEOUT_SECONDS
    max_header_bytes: int = MAX_HEADER_BYTES

    _head_timer: TimerHandle | None = None
    _head_bytes: int = 0
    _refused: bool = False

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_bytes = 0
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self._refused = True
            _close_with(self.transport, b"408 Request Timeout", b"request head too slow")

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_header_bytes and not self._refused:
            self._refused = True
            self._disarm_head_timer()
            _close_with(
                self.transport, b"431 Request Header Fields Too Large", b"headers too large"
            )
            raise _HeadRefused

    # --- protocol and parser callbacks ---------------------------------------------------------

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # a refused head already has its answer
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:
            self._arm_head_timer()
        self._head_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()
