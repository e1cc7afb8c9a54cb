"""The probes (``/healthz``, ``/readyz``) and the debug listing (``/templates``) as a small ASGI app.

Three GET routes need no framework, and a framework's error middleware would answer a failing probe
with a plain-text 500 and re-raise; here every answer is JSON and every failure is logged. The same
app serves every path of the admission port but ``/mutate``, and, without the listing, the plain-HTTP
probe port that the kubelet reaches without a client certificate (``--probe-port``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from webhook.server.asgi import Receive, Scope, Send, send_json
from webhook.server.refusal import error_body

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Probes:
    """Readiness says whether to send us traffic; liveness only whether the process still answers."""

    readiness: Callable[[], tuple[bool, str]] = lambda: (True, "ready")
    template_status: Callable[[], list[dict[str, Any]]] = field(default=list)


class ProbeApp:
    def __init__(self, probes: Probes, *, template_listing: bool = True) -> None:
        self._probes = probes
        self._routes: dict[str, Callable[[], tuple[int, bytes]]] = {
            "/healthz": lambda: (200, b'{"status":"ok"}'),
            "/readyz": self._readyz,
        }
        if template_listing:
            self._routes["/templates"] = self._templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no lifespan, no websockets
        route = self._routes.get(scope["path"])
        allow = None
        if route is None:
            status, body = 404, error_body("Not Found")
        elif scope["method"] not in ("GET", "HEAD"):
            status, body, allow = 405, error_body("Method Not Allowed"), b"GET"
        else:
            status, body = self._answer(scope["path"], route)
        await send_json(send, status, body, allow=allow, head=scope["method"] == "HEAD")

    def _answer(self, path: str, route: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes]:
        try:
            return route()
        except Exception:
            log.exception("internal error answering %s", path)
            if path == "/readyz":
                return 503, error_body("the readiness check failed internally; see the logs")
            return 500, error_body(f"internal error answering {path}; see the logs")

    def _readyz(self) -> tuple[int, bytes]:
        ready, detail = self._probes.readiness()
        return (200 if ready else 503), error_body(detail)

    def _templates(self) -> tuple[int, bytes]:
        return 200, orjson.dumps({"templates": self._probes.template_status()})
