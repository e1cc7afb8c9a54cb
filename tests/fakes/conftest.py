from __future__ import annotations

from collections.abc import Iterator

import kubernetes.client
import pytest

from tests.fakes import FakeApiServer
from tests.fakes.wire import Wire

NS = "shop"


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with FakeApiServer(bookmark_interval=0.2) as server:
        server.fresh_wait = 0.3  # the real 3 s, shortened: tests of the timeout must not be slow
        server.create_namespace(NS)
        yield server
    assert not server.internal_errors, server.internal_errors[0]


@pytest.fixture
def wire(fake: FakeApiServer) -> Wire:
    return Wire(fake)


@pytest.fixture
def client(fake: FakeApiServer) -> Iterator[kubernetes.client.ApiClient]:
    configuration = kubernetes.client.Configuration(host=fake.host)
    configuration.retries = 0
    with kubernetes.client.ApiClient(configuration) as api_client:
        yield api_client
