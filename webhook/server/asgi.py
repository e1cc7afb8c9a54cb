"""The little of ASGI both apps of the server need: its types, and a JSON answer sent whole."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def send_json(
    send: Send, status: int, body: bytes, *, allow: bytes | None = None, head: bool = False
) -> None:
    """Answer with ``body`` (JSON) and its length; ``allow`` lists the methods a 405 accepts, and a
    HEAD request gets the headers only."""
    headers = [(b"content-type", b"application/json")]
    if allow is not None:
        headers.append((b"allow", allow))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
