"""An HTTP protocol for uvicorn that bounds what one connection can hold, and for how long.

uvicorn (0.54) arms no timer on a new connection, resets its keep-alive timer on every byte, accepts
request heads of any size and count, queues pipelined requests without limit and never gives up on
a client that does not read its answers. Every pod in the cluster can reach the admission port, so
here a connection is always in one of four phases, each bounded:

- ``idle`` (no request in progress): closed after ``idle_timeout``. Keep it longer than the client's
  own idle timeout (Go's default 90 s, used by kube-apiserver), so the client closes idle connections
  first and never races a server-side close with a new request;
- ``receiving``: the whole request, head and body, must be in within ``request_timeout`` of its
  first byte, and its head may hold at most MAX_HEAD_BYTES in MAX_HEADERS headers (431 beyond:
  kube-apiserver sends a handful; httptools stores a header growing without end, and concatenating
  its pieces stalled the event loop);
- ``processing``: our own work, never timed here;
- ``answering``: an answer the client has not taken ``request_timeout`` after it was written (its
  bytes still queued here) is abandoned and the connection cut;
- ``closing``: when the server closes a connection (idle, refused, or ended after its answer), the
  peer gets CLOSE_GRACE_SECONDS to answer the TLS goodbye, then the connection is cut.

A request that begins before the previous answer was written, or while more than
UNREAD_ANSWER_BYTES of answers are still unread, ends the connection after that answer:
kube-apiserver never pipelines (no HTTP/1.1 client pipelines a POST), and uvicorn read and queued
pipelined requests without limit (20 connections that never read their answers held 1.5 GiB). So a
connection holds at most one request and one answer at a time.

Cutting a connection (a timeout, or the budget in server/limits.py freeing a stalled request's share)
aborts it: no TLS goodbye, whose wait (up to 30 s) kept the request counted against the limits, and
the request's reader is woken at once.
"""

from __future__ import annotations

import asyncio
import fcntl
import socket
import struct
import termios
import time
from collections.abc import Callable
from typing import Any, Protocol

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from webhook.server.app import ARRIVAL, CONNECTION
from webhook.settings import DEFAULTS
from webhook.transport.answers import OneRecordAnswers

MAX_HEAD_BYTES = 32 * 1024
MAX_HEADERS = 100
HEAD_TOO_LARGE = f"request head exceeds {MAX_HEAD_BYTES} bytes"
UNREAD_ANSWER_BYTES = 64 * 1024  # a new request with more than this still unsent ends the connection

IDLE, RECEIVING, PROCESSING, ANSWERING, CLOSING = "idle", "receiving", "processing", "answering", "closing"
CLOSE_GRACE_SECONDS = 1.0


class Registry(Protocol):
    """Where a connection reports that it opened and closed (the listener's ConnectionRegistry)."""

    def opened(self, connection: GuardedHttpToolsProtocol) -> None: ...
    def closed(self, connection: GuardedHttpToolsProtocol) -> None: ...


class _EndOfConnection(Exception):
    """Raised from a parser callback to stop parsing: nothing more is read on this connection."""

    def __init__(self, reason: str, status: int = 0, message: str = "") -> None:
        super().__init__(reason)
        self.reason, self.status, self.message = reason, status, message


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    request_timeout: float = DEFAULTS.request_timeout
    idle_timeout: float = DEFAULTS.idle_timeout
    registry: Registry | None = None
    on_cut: Callable[[str], None] = staticmethod(lambda reason: None)

    phase = IDLE
    since = 0.0  # when the connection entered its phase (monotonic)
    last_progress = 0.0  # when bytes last arrived (the budget cuts requests that stopped moving)
    requests = 0  # requests begun on this connection
    _arrival = 0.0  # when the current request's first byte arrived
    _timer: asyncio.TimerHandle | None = None
    _timer_at = 0.0  # when the armed timer fires (monotonic)
    _ends_at: float | None = None  # when the current phase times out (monotonic); None: never
    _in_head = True
    _head_bytes = 0  # bytes of the current head seen in chunks that began inside it
    _heads_completed = 0
    _head_size = 0  # bytes of the current head's complete lines (url, names, values)
    _headers = 0
    _ended = False  # no further request is read on this connection
    _cut = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.registry is not None:
            self.registry.opened(self)
        self._enter(IDLE, self.idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        # uvicorn cancels its keep-alive timer only when the connection closed cleanly; after a reset
        # the armed timer keeps the protocol, its TLS state and buffers (about 1 MiB) alive until
        # it fires, which with a 120 s idle timeout looked like a leak under connection churn.
        self._unset_keepalive_if_required()
        if self.registry is not None:
            self.registry.closed(self)
        # The request's scope refers to this protocol, which refers to the scope: break the cycle so
        # reference counting frees the connection and its TLS buffers now (the cyclic GC runs rarely).
        extensions = self.scope.get("extensions") if self.scope is not None else None
        if extensions:
            extensions.pop(CONNECTION, None)
        super().connection_lost(exc)

    # Reading ---------------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._ended:
            return
        self.last_progress = time.monotonic()
        # Only a chunk that began inside a head and never saw it end is head bytes: a whole review can
        # arrive in one read (head, body, end), after which the parser is inside a head again.
        heads_before = self._heads_completed if self._in_head else -1
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            end = _end_of_connection(exc)
            if end is None:
                raise
            self._end(*end)
            return
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()  # as uvicorn does: the request is served as plain HTTP
        except httptools.HttpParserError:
            self._end("bad-request", 400, "invalid HTTP request")
            return
        if self._in_head and self._heads_completed == heads_before:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._end("headers-too-large", 431, HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            raise _EndOfConnection("pipelined")
        if self.transport.get_write_buffer_size() > UNREAD_ANSWER_BYTES:
            raise _EndOfConnection("answer-not-read")
        super().on_message_begin()
        self.requests += 1
        self._arrival = time.monotonic()
        self._headers = self._head_size = 0
        self._enter(RECEIVING, self.request_timeout)

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers += 1
        if self._headers > MAX_HEADERS:
            raise _EndOfConnection("headers-too-large", 431, f"more than {MAX_HEADERS} request headers")
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._heads_completed += 1
        # The app honours kube-apiserver's ?timeout= from the moment the request started to arrive,
        # which only the protocol knows, and may cut this connection to free a stalled request's share.
        extensions: dict[str, object] = dict(self.scope.get("extensions") or {})
        extensions[ARRIVAL] = self._arrival
        extensions[CONNECTION] = self
        self.scope["extensions"] = extensions  # type: ignore[typeddict-item]
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not previous:
            self.cycle.transport = OneRecordAnswers(self.transport)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        if self.cycle is not None and self.cycle.response_complete:
            self._after_answer()  # answered (refused) before the body was in
        else:
            self._enter(PROCESSING, None)

    def _count_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > MAX_HEAD_BYTES:
            raise _head_too_large()

    # Answering -------------------------------------------------------------------------------------

    def on_response_complete(self) -> None:
        if self.cycle is not None and isinstance(self.cycle.transport, OneRecordAnswers):
            self.cycle.transport.flush()
        super().on_response_complete()
        self._unset_keepalive_if_required()  # ours are the only timers
        if self.phase != RECEIVING:  # a refusal may come while the body is still arriving
            self._after_answer()

    def _after_answer(self) -> None:
        if self.transport.is_closing():  # uvicorn closed it after the answer (keep-alive ended)
            self._enter(CLOSING, CLOSE_GRACE_SECONDS)
            return
        self._enter(IDLE, self.idle_timeout)
        # uvloop writes at the end of the loop iteration: look at what is left once it has.
        self.loop.call_soon(self._check_unsent)

    def _check_unsent(self) -> None:
        if self.phase == IDLE and not self._ended and self.transport.get_write_buffer_size():
            self._enter(ANSWERING, self.request_timeout)

    # Ending ----------------------------------------------------------------------------------------

    def waiting_on_client(self) -> bool:
        """Whether the client, not this server, is why nothing moves: none of its bytes wait unread.

        Time alone cannot tell a stalled client from a server too busy to read (a burst of TLS
        handshakes can keep the event loop a second behind); a request already in the kernel's
        buffer is never counted against its client.
        """
        sock = self.transport.get_extra_info("socket")
        return sock is None or unread_bytes(sock) == 0

    def cut(self) -> None:
        """For the budget: this connection's request stalled and its share is needed elsewhere."""
        self._cut_now("stalled")

    def evict(self) -> None:
        """For the connection registry: room is needed for a new connection."""
        self._cut_now("evicted")

    def _cut_now(self, reason: str) -> None:
        if self._cut:
            return
        self._cut = self._ended = True
        self._disarm()
        self.on_cut(reason)
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # wakes the request's reader now, not when the transport says so
            cycle.message_event.set()
        self.transport.abort()

    def _end(self, reason: str, status: int = 0, message: str = "") -> None:
        """Read nothing more. A refusal is answered at once; otherwise the answer in progress (if
        any) is completed and the connection closed after it."""
        if self.cycle is not None and not self.cycle.response_complete:
            if status:  # a refusal cannot be written in the middle of another answer
                self._cut_now(reason)
                return
            self.cycle.keep_alive = False  # uvicorn closes the transport once the answer is written
        elif not status:
            self._cut_now(reason)
            return
        self._ended = True
        self.flow.pause_reading()
        self.on_cut(reason)
        if status:
            self._write_refusal(status, message)
            self._close()

    def _write_refusal(self, status: int, message: str) -> None:
        body = orjson.dumps({"message": message})
        phrase = {400: b"Bad Request", 431: b"Request Header Fields Too Large"}.get(status, b"")
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n" % (
            status,
            phrase,
            len(body),
        )
        self.transport.write(head + b"connection: close\r\n\r\n" + body)

    # Timers ----------------------------------------------------------------------------------------
    # One lazy timer per connection: entering a phase only records when it ends, and the timer, when
    # it fires, either ends the phase or re-arms for the phase's end. A request passes through three
    # phases, and arming and cancelling a timer at each (a libuv timer and a handle per call) was a
    # measurable share of a review's cost; now a busy connection re-arms about once per timeout.

    def _enter(self, phase: str, timeout: float | None) -> None:
        now = time.monotonic()
        self.phase, self.since = phase, now
        if timeout is None:
            self._ends_at = None  # an armed timer finds nothing due and stops
            return
        self._ends_at = now + timeout
        if self._timer is None or self._timer_at > self._ends_at:
            self._arm(self._ends_at, now)

    def _arm(self, when: float, now: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self.loop.call_later(max(when - now, 0.0), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._ends_at is None:
            return
        now = time.monotonic()
        if now < self._ends_at:  # the phase changed since the timer was armed, or it fired early
            self._arm(self._ends_at, now)
            return
        self._ends_at = None
        self._expire()

    def _disarm(self) -> None:
        self._ends_at = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        if self.phase == RECEIVING:
            self._cut_now("request-timeout")
        elif self.phase == ANSWERING:
            if self.transport.get_write_buffer_size():
                self._cut_now("answer-not-read")
            else:
                self._enter(IDLE, max(self.idle_timeout - self.request_timeout, 0.0))
        elif self.phase == IDLE:
            self._close()
        elif self.phase == CLOSING:
            self._cut_now("close-timeout")

    def _close(self) -> None:
        """Close with a TLS goodbye, but wait for the peer's only CLOSE_GRACE_SECONDS: uvloop would
        wait 30 s, reading and decrypting whatever the peer keeps sending."""
        self.transport.close()
        self._enter(CLOSING, CLOSE_GRACE_SECONDS)


def unread_bytes(sock: socket.socket) -> int:
    """Bytes received by the kernel for ``sock`` and not read yet (0 if it cannot tell)."""
    try:
        answer = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except (OSError, ValueError):
        return 0
    return int(struct.unpack("i", answer)[0])


def _head_too_large() -> _EndOfConnection:
    return _EndOfConnection("headers-too-large", 431, HEAD_TOO_LARGE)


def _end_of_connection(error: httptools.HttpParserCallbackError) -> tuple[str, int, str] | None:
    """What a callback's _EndOfConnection asked for, as plain data. The exception itself must not be
    kept: its traceback holds data_received's frame, and a local of that frame holding the exception
    is a reference cycle that kept every such connection, TLS state included, until a rare GC."""
    end = error.__context__
    if not isinstance(end, _EndOfConnection):
        return None
    error.__context__ = end.__traceback__ = None
    return end.reason, end.status, end.message


def guarded_protocol(
    request_timeout: float,
    idle_timeout: float,
    registry: Registry | None = None,
    on_cut: Callable[[str], None] | None = None,
) -> type[GuardedHttpToolsProtocol]:
    attributes: dict[str, Any] = {
        "request_timeout": request_timeout,
        "idle_timeout": idle_timeout,
        "registry": registry,
    }
    if on_cut is not None:
        attributes["on_cut"] = staticmethod(on_cut)
    return type("ConfiguredGuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), attributes)
