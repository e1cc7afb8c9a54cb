"""Accepting connections ourselves: a cap on how many are open at once, TLS handshakes included, a
deadline for the handshake, and room made for a newcomer by evicting the connection that matters least.

uvicorn hands its listening socket to the event loop, which accepts whatever the kernel queued and
gives each connection its TLS state and (uvloop) a 256 KiB read buffer before any limit of ours can
see it: 3,000 connections at once cost about 150 MiB, and a TCP connection that never starts its
handshake was kept for 60 s. Here an accept loop takes a connection only when there is room under
``--max-connections`` (per process); beyond it new connections wait in the kernel's backlog, holding
nothing of ours. When one is waiting and the cap is reached, the least useful connection is cut to
make room, in this order: one already closing (a TLS goodbye the peer does not answer), the one idle
the longest, the oldest of those receiving a request or leaving an answer unread, the oldest TLS
handshake; each only once it has been so for PROGRESS_GRACE_SECONDS (FRESH_GRACE_SECONDS for a
connection that has not sent a request yet, or is still in its handshake), and never while bytes
it sent wait unread in the kernel: under a burst the server, not the client, is the one behind.
A cap that idle or stalled connections could fill would itself be the attack; a request being
decided is never cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from webhook.server.limits import PROGRESS_GRACE_SECONDS
from webhook.transport.connection import (
    ANSWERING,
    IDLE,
    RECEIVING,
    GuardedHttpToolsProtocol,
    guarded_protocol,
    unread_bytes,
)
from webhook.transport.memory import HeapTrimmer

log = logging.getLogger(__name__)

FRESH_GRACE_SECONDS = 5.0  # a new connection (handshaking, or no request yet) is never cut sooner
MIN_GRACEFUL_SHUTDOWN_SECONDS = 5  # what requests in flight get to finish once the servers stop


class ConnectionRegistry:
    """Every connection of one listening port, from accept to close."""

    def __init__(
        self,
        limit: int,
        *,
        grace: float = PROGRESS_GRACE_SECONDS,
        on_change: Callable[[int], None] = lambda count: None,
        on_cut: Callable[[str], None] = lambda reason: None,
        trimmer: HeapTrimmer | None = None,
    ) -> None:
        self.limit = limit
        self._grace = grace
        self._on_change, self._on_cut = on_change, on_cut
        self._trimmer = trimmer
        self._open: dict[GuardedHttpToolsProtocol, None] = {}
        self._handshakes: dict[asyncio.Task[None], tuple[float, socket.socket]] = {}
        self._room = asyncio.Event()

    @property
    def count(self) -> int:
        return len(self._open) + len(self._handshakes)

    def opened(self, connection: GuardedHttpToolsProtocol) -> None:
        self._open[connection] = None
        self._on_change(self.count)

    def closed(self, connection: GuardedHttpToolsProtocol) -> None:
        if connection in self._open:
            del self._open[connection]
            self._gone()
        self.released()

    def released(self) -> None:
        """A connection's memory was freed (closed, or its handshake failed)."""
        if self._trimmer is not None:
            self._trimmer.connection_closed()

    def handshaking(self, task: asyncio.Task[None], connection: socket.socket) -> None:
        self._handshakes[task] = (time.monotonic(), connection)
        self._on_change(self.count)

    def handshake_done(self, task: asyncio.Task[None]) -> None:
        if self._handshakes.pop(task, None) is not None:
            self._gone()

    def _gone(self) -> None:
        self._room.set()
        self._on_change(self.count)

    async def make_room(self, patience: float) -> bool:
        """Wait (up to ``patience`` seconds) until one more connection fits, evicting if needed."""
        deadline = time.monotonic() + patience
        while self.count >= self.limit:
            if self._evict_one():
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._room.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), min(remaining, 0.1))
        return True

    def _evict_one(self) -> bool:
        now = time.monotonic()
        victim = self._least_useful(now)
        if victim is not None:
            del self._open[victim]
            victim.evict()
            self._gone()
            return True
        fresh = now - FRESH_GRACE_SECONDS
        handshakes = [
            (started, task)
            for task, (started, sock) in self._handshakes.items()
            if started <= fresh and unread_bytes(sock) == 0
        ]
        if not handshakes:
            return False
        _, task = min(handshakes, key=lambda pair: pair[0])
        del self._handshakes[task]
        task.cancel()
        self._on_cut("evicted")
        self._gone()
        return True

    def _least_useful(self, now: float) -> GuardedHttpToolsProtocol | None:
        """The connection to cut first, if any may be: see the module's docstring for the order."""
        old, fresh = now - self._grace, now - FRESH_GRACE_SECONDS
        closing, idle, stalled = [], [], []
        for connection in self._open:
            if connection.transport.is_closing():
                closing.append(connection)
            elif connection.phase == IDLE and connection.since <= (old if connection.requests else fresh):
                idle.append(connection)
            elif connection.phase in (RECEIVING, ANSWERING) and connection.since <= old:
                stalled.append(connection)
        for group in (closing, idle, stalled):
            waiting = [c for c in group if group is closing or c.phase == ANSWERING or c.waiting_on_client()]
            if waiting:
                return min(waiting, key=lambda c: c.since)
        return None

    def abort_handshakes(self) -> None:
        for task in list(self._handshakes):
            task.cancel()


class GuardedServer(uvicorn.Server):
    """uvicorn's server with the accept loop above instead of the event loop's own, and without its
    own signal capture: the runtime owns SIGTERM (it drains first)."""

    registry: ConnectionRegistry
    handshake_timeout: float

    def __init__(
        self, config: uvicorn.Config, registry: ConnectionRegistry, handshake_timeout: float
    ) -> None:
        super().__init__(config)
        self.registry = registry
        self.handshake_timeout = handshake_timeout
        self._accepting: list[asyncio.Task[None]] = []
        self._owned: list[socket.socket] = []

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        config = self.config
        if sockets is None:
            sock = config.bind_socket()
            sock.listen(config.backlog)
            self._owned = sockets = [sock]
        for sock in sockets:
            sock.setblocking(False)
            self._accepting.append(asyncio.create_task(self._accept(sock)))
        self.servers = []
        self.started = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for task in self._accepting:
            task.cancel()
        self.registry.abort_handshakes()
        for sock in self._owned:
            sock.close()
        await super().shutdown(sockets)

    def _protocol(self) -> asyncio.Protocol:
        return self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                connection, _ = await loop.sock_accept(listener)
            except OSError as exc:  # out of descriptors, or a connection reset while queued
                log.warning("accepting a connection failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            if not await self.registry.make_room(self.handshake_timeout):
                connection.close()
                continue
            task = loop.create_task(self._handshake(connection))
            self.registry.handshaking(task, connection)
            task.add_done_callback(self.registry.handshake_done)

    async def _handshake(self, connection: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        tls = self.config.ssl
        try:
            await loop.connect_accepted_socket(
                self._protocol,
                connection,
                ssl=tls,
                ssl_handshake_timeout=self.handshake_timeout if tls is not None else None,
            )
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            log.debug("TLS handshake failed: %s", exc)
            connection.close()
            self.registry.released()


@dataclass(frozen=True, slots=True)
class PortOptions:
    """How one listening port treats its connections (the connection limits of Settings)."""

    host: str
    max_connections: int
    request_timeout: float
    idle_timeout: float
    drain_seconds: float


def guarded_server(
    app: Any,
    port: int,
    options: PortOptions,
    trimmer: HeapTrimmer,
    *,
    on_cut: Callable[[str], None] | None = None,
    on_change: Callable[[int], None] | None = None,
    configure: Callable[[uvicorn.Config], None] | None = None,
) -> GuardedServer:
    """One listening port, every connection guarded (timeouts, head limits, a connection cap).

    ``configure`` may change uvicorn's config before the server is built (the runtime installs its
    reloadable TLS context there).
    """
    registry = ConnectionRegistry(
        options.max_connections,
        on_cut=on_cut or (lambda reason: None),
        on_change=on_change or (lambda count: None),
        trimmer=trimmer,
    )
    config = uvicorn.Config(
        app,
        host=options.host,
        port=port,
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,  # kube-apiserver calls the port directly: no X-Forwarded-* to trust
        ws="none",
        http=guarded_protocol(options.request_timeout, options.idle_timeout, registry, on_cut),
        timeout_keep_alive=int(options.idle_timeout),
        timeout_graceful_shutdown=max(int(options.drain_seconds), MIN_GRACEFUL_SHUTDOWN_SECONDS),
    )
    if configure is not None:
        configure(config)
    return GuardedServer(config, registry, handshake_timeout=options.request_timeout)


async def all_started(servers: list[GuardedServer], tasks: list[asyncio.Task[None]]) -> bool:
    """True once every server listens; False when one of them ended before it did."""
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            return False
        await asyncio.sleep(0.01)
    return True
