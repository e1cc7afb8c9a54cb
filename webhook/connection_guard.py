"""An HTTP protocol for uvicorn that does not let slow or idle clients hold connections forever.

uvicorn (0.54) arms no timer on a new connection and cancels its keep-alive timer on every byte
received, so a client that connects and never sends, or sends one header byte a second
(slowloris), keeps its connection and its memory indefinitely. Every pod in the cluster can reach
the admission port, so this protocol adds two deadlines:

- ``request_timeout``: once the first byte of a request arrives, the whole request (headers and
  body) must be in within this time (kube-apiserver sends it in one go);
- ``idle_timeout``: a connection with no request in progress is closed after this long. Keep it
  longer than the client's own idle timeout (Go's default 90 s, used by kube-apiserver), so the
  client closes idle connections first and never races a server-side close with a new request.
"""

from __future__ import annotations

import asyncio
import time

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from webhook.server.app import ARRIVAL


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    request_timeout: float = 10.0
    idle_timeout: float = 120.0
    _deadline: asyncio.TimerHandle | None = None
    _receiving = False
    _arrival = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.idle_timeout)

    def data_received(self, data: bytes) -> None:
        if not self._receiving:
            self._receiving = True
            self._arrival = time.monotonic()
            self._arm(self.request_timeout)
        super().data_received(data)

    def on_headers_complete(self) -> None:
        # The app honours kube-apiserver's ?timeout= from the moment the request started to arrive,
        # which only the protocol knows: time spent queued behind other requests counts too.
        extensions: dict[str, object] = dict(self.scope.get("extensions") or {})
        extensions[ARRIVAL] = self._arrival
        self.scope["extensions"] = extensions  # type: ignore[typeddict-item]
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._receiving = False
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self._receiving:
            self._arm(self.idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        # uvicorn cancels its keep-alive timer only when the connection closed cleanly; after a reset
        # the armed timer keeps the protocol, its TLS state and buffers (about 1 MiB) alive until
        # it fires, which with a 120 s idle timeout looked like a leak under connection churn.
        self._unset_keepalive_if_required()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        # A request being processed is never cut: only reading and idling are timed.
        if self.cycle is not None and not self.cycle.response_complete and not self._receiving:
            return
        if not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(request_timeout: float, idle_timeout: float) -> type[GuardedHttpToolsProtocol]:
    return type(
        "ConfiguredGuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {"request_timeout": request_timeout, "idle_timeout": idle_timeout},
    )
