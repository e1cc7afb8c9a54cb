"""Real `sidecar-injector serve` replicas driven the way the API server and the kubelet drive them,
for the alert and dashboard tests (tests/support/prometheus.py replays what they expose)."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.integration.chart_helpers import NAMESPACE, RELEASE
from tests.support.processes import RunningServer, cli, running_server
from tests.support.prometheus import Recorder, Target
from tests.support.reviews import opted_in_pod, review

JOB = f"{RELEASE}-sidecar-injector"
TICKS = 36  # 17.5 minutes of replayed time: the longest alert needs 15
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# log-shipper with its image gone: the server rejects it and keeps serving the last good version.
BROKEN_TEMPLATE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: log-shipper
  labels:
    sidecar-injector.io/template: "true"
data:
  template: |
    containers:
    - name: log-shipper
"""


class Replica:
    """One running server with its own certificate, and a client that talks to it as the API server."""

    def __init__(self, server: RunningServer, certs: Path, pod: str) -> None:
        self.server, self.certs = server, certs
        self.target = Target(pod, server.port, server.metrics_port, JOB, NAMESPACE)
        self.context = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        self.client = httpx.Client(verify=self.context, timeout=30)

    def post(self, body: bytes, query: str = "") -> httpx.Response:
        url = f"https://localhost:{self.server.port}/mutate{query}"
        return self.client.post(url, content=body, headers={"content-type": "application/json"})

    def admit(self, obj: dict[str, Any], query: str = "") -> httpx.Response:
        return self.post(json.dumps(review(obj)).encode(), query)

    def scrape(self) -> list[Sample]:
        text = httpx.get(f"http://127.0.0.1:{self.server.metrics_port}/metrics").text
        return [sample for family in text_string_to_metric_families(text) for sample in family.samples]

    def metric(self, name: str, **labels: str) -> float:
        return total(self.scrape(), name, **labels)


def total(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the series named ``name`` whose labels include ``labels``."""
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def certificate(directory: Path, days: int = 365) -> Path:
    cli(
        "certs", "generate", "--service", "s", "--namespace", "n", "--out", str(directory),
        "--days", str(days), "--extra-name", "localhost",
    )  # fmt: skip
    return directory


@contextmanager
def replicas(
    tmp_path: Path, *extra: str, count: int = 1, days: tuple[int, ...] = (365, 365)
) -> Iterator[list[Replica]]:
    with ExitStack() as stack:
        started = []
        for index in range(count):
            certs = certificate(tmp_path / f"certs-{index}", days[index])
            args = ["--cert", str(certs / "tls.crt"), "--key", str(certs / "tls.key"), *extra]
            server = stack.enter_context(running_server(args, tmp_path))
            replica = Replica(server, certs, f"{JOB}-{index}")
            stack.callback(replica.client.close)
            started.append(replica)
        yield started


def normal_traffic(replica: Replica, template: str = "logging-agent", count: int = 8) -> None:
    """What a healthy cluster sends: opted-in pods that get their sidecar, and pods that opt out."""
    for _ in range(count):
        answer = replica.admit(opted_in_pod(template))
        assert answer.status_code == 200 and "patch" in answer.json()["response"], answer.text
    for _ in range(2):
        assert replica.admit(plain_pod()).json()["response"]["allowed"] is True


def everyone(running: list[Replica], action: Callable[[Replica], None]) -> None:
    for replica in running:
        action(replica)


def plain_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "a"}]},
    }


def native_pod(template: str) -> dict[str, Any]:
    pod = plain_pod()
    pod["metadata"]["annotations"] = {"sidecar-injector.io/inject": template}
    return pod


def record(targets: list[Replica], each_tick: Callable[[int], None], ticks: int = TICKS) -> Recorder:
    recorder = Recorder([r.target for r in targets])
    for tick in range(ticks):
        each_tick(tick)
        recorder.tick()
    return recorder


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
