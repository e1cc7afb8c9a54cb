"""uvicorn on 127.0.0.1 in a background thread, with TLS wired exactly as runtime wires it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from webhook.tls import CertificateReloader, ReloadableContext, install_into_uvicorn_config

WAIT = 10.0  # seconds: a functional deadline, not a performance claim


async def hello(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


class UvicornTlsServer:
    """uvicorn on 127.0.0.1 in a background thread, wired exactly as runtime wires it."""

    def __init__(self, reloadable: ReloadableContext, reloader: CertificateReloader | None = None) -> None:
        self._reloadable = reloadable
        self._reloader = reloader
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            hello, log_level="warning", lifespan="off", ws="none", http="h11", loop="asyncio"
        )
        install_into_uvicorn_config(config, reloadable)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        stop = asyncio.Event()
        reloading = asyncio.create_task(self._reloader.run(stop)) if self._reloader else None
        try:
            await self._server.serve(sockets=[self._sock])
        finally:
            stop.set()
            if reloading is not None:
                await reloading

    def __enter__(self) -> UvicornTlsServer:
        self._thread.start()
        deadline = time.monotonic() + WAIT
        while not self._server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            assert self._thread.is_alive(), "uvicorn exited during start-up"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(WAIT)
        self._sock.close()
        assert not self._thread.is_alive(), "uvicorn did not stop"
