"""Raw HTTP to the fake, for the protocol details the official client hides (tests only)."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.fakes.apiserver import FakeApiServer

META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
META = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.raw)


class Wire:
    def __init__(self, fake: FakeApiServer, timeout: float = 10.0) -> None:
        self.fake = fake
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str | None = "application/json",
        accept: str | None = None,
        raw: bytes | None = None,
    ) -> Response:
        headers = {}
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if data is not None and content_type:
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        connection = http.client.HTTPConnection("127.0.0.1", self.fake.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            return Response(
                response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            )
        finally:
            connection.close()

    def get(self, path: str, accept: str | None = None) -> Response:
        return self.request("GET", path, accept=accept)

    def post(self, path: str, body: Any) -> Response:
        return self.request("POST", path, body)

    def put(self, path: str, body: Any) -> Response:
        return self.request("PUT", path, body)

    def patch(self, path: str, body: Any, content_type: str = "application/merge-patch+json") -> Response:
        return self.request("PATCH", path, body, content_type=content_type)

    def delete(self, path: str, body: Any = None) -> Response:
        return self.request("DELETE", path, body)

    def watch(self, path: str, accept: str | None = None) -> list[dict[str, Any]]:
        """Every event of a watch that ends by itself (give it ``timeoutSeconds``)."""
        with self.stream(path, accept) as events:
            return list(events)

    def watch_until_bookmark(self, path: str, accept: str | None = None) -> list[dict[str, Any]]:
        """The events of a watch before its first bookmark: every change up to the bookmark's version
        (the fake sends one every ``bookmark_interval``), so a test need not wait for a timeout."""
        separator = "&" if "?" in path else "?"
        events: list[dict[str, Any]] = []
        with self.stream(f"{path}{separator}allowWatchBookmarks=true", accept) as stream:
            for event in stream:
                if event["type"] == "BOOKMARK":
                    return events
                events.append(event)
        raise AssertionError(f"the watch ended without a bookmark after {events}")

    @contextmanager
    def stream(self, path: str, accept: str | None = None) -> Iterator[Iterator[dict[str, Any]]]:
        """Events as they arrive, for a watch the test ends by leaving the block."""
        connection = http.client.HTTPConnection("127.0.0.1", self.fake.port, timeout=self.timeout)
        try:
            connection.request("GET", path, headers={"Accept": accept} if accept else {})
            response = connection.getresponse()
            assert response.status == 200, response.read()
            assert response.getheader("Transfer-Encoding") == "chunked"
            yield (json.loads(line) for line in response if line.strip())
        finally:
            connection.close()


def eventually(predicate: Callable[[], object], within: float = 5.0, what: str = "condition") -> None:
    """Bounded polling: functional waits, never a claim about speed."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {within} s")
        time.sleep(0.01)
