from __future__ import annotations

from collections.abc import Iterator

import kubernetes.client
import pytest

from tests.fakes import FakeApiServer

NS = "shop"


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with FakeApiServer(bookmark_interval=0.2) as server:
        server.create_namespace(NS)
        yield server
    assert not server.internal_errors, server.internal_errors[0]


@pytest.fixture
def api_client(fake: FakeApiServer) -> Iterator[kubernetes.client.ApiClient]:
    configuration = kubernetes.client.Configuration(host=fake.host)
    configuration.retries = 0
    with kubernetes.client.ApiClient(configuration) as client:
        yield client
