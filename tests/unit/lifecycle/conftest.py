from __future__ import annotations

from collections.abc import Iterator

import kubernetes.client
import pytest

from tests.fakes import FakeApiServer
from webhook.kube.resources import Resources

NS = "injector"


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with FakeApiServer(bookmark_interval=0.2) as server:
        server.create_namespace(NS)
        server.create_namespace("shop")
        yield server
    assert not server.internal_errors, server.internal_errors[0]


@pytest.fixture
def resources(fake: FakeApiServer) -> Iterator[Resources]:
    configuration = kubernetes.client.Configuration(host=fake.host)
    configuration.retries = 0
    with kubernetes.client.ApiClient(configuration) as client:
        yield Resources(client, timeout=(1.0, 2.0))
