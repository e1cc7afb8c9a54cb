"""A synchronous in-process HTTP client for an ASGI app (httpx's ASGI transport under asyncio.run)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


class AsgiClient:
    def __init__(self, app: Any) -> None:
        self._transport = httpx.ASGITransport(app=app)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            async with httpx.AsyncClient(
                transport=self._transport, base_url="https://injector.test"
            ) as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(send())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)
