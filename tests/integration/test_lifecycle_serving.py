"""The day-2 loop end to end, with real servers (``serve --kube``) against the fake apiserver, which
sends the Pods its controllers create through the webhook as kube-apiserver would:

- pod injection (the issue's "Done when"): change a template, ``drift`` shows the workloads
  outdated, ``rollout --max-in-flight 1`` restarts them one at a time (each done before the next
  starts), their new Pods are injected with the new revision, ``drift`` shows all current, and
  the server's own ``sidecar_injector_pods`` agrees;
- the rolling updater: two servers, one holds the Lease and rolls workloads out; killed, the other
  takes over and rolls out the next change.
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes import FakeApiServer
from tests.fakes.builders import workload
from tests.support.cluster import (
    INJECTOR,
    SHOP,
    admitted,
    fake_cluster,
    opted_in,
    put_template,
    shipper_body,
    write_kubeconfig,
)
from tests.support.processes import IssuedCertificate, RunningServer, issue_certificate, running_server
from webhook.cli import main

pytestmark = pytest.mark.integration
NAMES = ("a", "b", "c")


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with fake_cluster(rollout_delay=0.2) as server:
        yield server


@pytest.fixture
def certificate(tmp_path: Path) -> IssuedCertificate:
    return issue_certificate(tmp_path / "certs")


def serve(
    stack: ExitStack, fake: FakeApiServer, tmp_path: Path, certificate: IssuedCertificate, *extra: str
) -> RunningServer:
    tmp_path.mkdir(parents=True, exist_ok=True)
    kubeconfig = write_kubeconfig(fake, tmp_path / "kubeconfig")
    args = [
        "--kube",
        "--kubeconfig",
        str(kubeconfig),
        "--namespace",
        INJECTOR,
        *certificate.server_args,
        *extra,
    ]
    return stack.enter_context(running_server(args, tmp_path, certificate.client_context()))


def eventually(check: Callable[[], Any], what: str, within: float = 30.0) -> Any:
    deadline = time.monotonic() + within
    while not (result := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return result


def metric(server: RunningServer, name: str, **labels: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5).text
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def served_revision(server: RunningServer, certificate: IssuedCertificate, name: str) -> str | None:
    rows = httpx.get(f"https://127.0.0.1:{server.port}/templates", verify=certificate.client_context()).json()
    return next((r["revision"] for r in rows["templates"] if r["name"] == name and r["serving"]), None)


def drift(kubeconfig: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    capsys.readouterr()
    assert (
        main(["drift", "--kubeconfig", str(kubeconfig), "--injector-namespace", INJECTOR, "-o", "json"]) == 0
    )
    return {f"{i['kind']}/{i['name']}": i["state"] for i in json.loads(capsys.readouterr().out)["items"]}


def settled(fake: FakeApiServer) -> bool:
    deployments = fake.list_objects("deployments.apps", SHOP)
    return all(
        d["metadata"]["generation"] == (d.get("status") or {}).get("observedGeneration") for d in deployments
    )


def test_pod_injection_end_to_end_change_drift_rollout_drift(
    fake: FakeApiServer, tmp_path: Path, certificate: IssuedCertificate, capsys: pytest.CaptureFixture[str]
) -> None:
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.1", mode="pod"))
    kubeconfig = write_kubeconfig(fake, tmp_path / "kubeconfig")
    with ExitStack() as stack:
        server = serve(stack, fake, tmp_path, certificate, "--watch-pods")
        eventually(lambda: served_revision(server, certificate, "log-shipper"), "the template is served")
        url = f"https://127.0.0.1:{server.port}/mutate"
        fake.add_mutating_webhook(url, certificate.client_context(), ["pods", "deployments.apps"])
        for name in NAMES:
            fake.create_object(
                opted_in(workload("Deployment", name, SHOP), "log-shipper", on_pod_template=False)
            )
        eventually(lambda: settled(fake) and len(fake.list_objects("pods", SHOP)) == 6, "six Pods running")
        first = served_revision(server, certificate, "log-shipper")
        assert drift(kubeconfig, capsys) == dict.fromkeys((f"Deployment/{n}" for n in NAMES), "current")
        template = fake.get_object("deployments.apps", SHOP, "a")["spec"]["template"]
        assert [c["name"] for c in template["spec"]["containers"]] == ["app"], (
            "pod injection: spec as written"
        )
        assert template["metadata"]["annotations"]["sidecar-injector.io/inject"] == "log-shipper", (
            "opt-in copied"
        )
        pods = fake.list_objects("pods", SHOP)
        assert all([c["name"] for c in p["spec"]["containers"]] == ["app", "log-shipper"] for p in pods)

        put_template(fake, "log-shipper", shipper_body("fluent-bit:3.2", mode="pod"))
        eventually(lambda: served_revision(server, certificate, "log-shipper") != first, "the fix is served")
        assert set(drift(kubeconfig, capsys).values()) == {"outdated"}
        eventually(
            lambda: metric(server, "sidecar_injector_pods", template="log-shipper", state="outdated") == 6,
            "the server counts 6 outdated Pods",
        )

        args = ["--template", "log-shipper", "--max-in-flight", "1", "--poll-interval", "0.05"]
        assert (
            main(["rollout", "--kubeconfig", str(kubeconfig), "--injector-namespace", INJECTOR, *args]) == 0
        )
        out = capsys.readouterr().out
        assert out.count("started  Deployment") == 3 and "pod injection: restart" in out
        events = [
            line.split(":")[0].split(maxsplit=1)
            for line in out.splitlines()
            if line.startswith(("started", "done"))
        ]
        one_at_a_time = [[what, f"Deployment {SHOP}/{n}"] for n in NAMES for what in ("started", "done")]
        assert sorted(events) == sorted(one_at_a_time) and all(
            started[0] == "started" and done == ["done", started[1]]
            for started, done in zip(events[::2], events[1::2], strict=True)
        ), f"--max-in-flight 1: each workload done before the next starts:\n{out}"

        assert drift(kubeconfig, capsys) == dict.fromkeys((f"Deployment/{n}" for n in NAMES), "current")
        images = {c["image"] for p in fake.list_objects("pods", SHOP) for c in p["spec"]["containers"]}
        assert "fluent-bit:3.2" in images and "fluent-bit:3.1" not in images
        eventually(
            lambda: metric(server, "sidecar_injector_pods", template="log-shipper", state="current") == 6,
            "the server counts 6 current Pods",
        )
        assert metric(server, "sidecar_injector_pods", state="outdated") == 0


def lease_holder(fake: FakeApiServer) -> str:
    try:
        return str(
            fake.get_object("leases.coordination.k8s.io", INJECTOR, "sidecar-injector-rollout")["spec"][
                "holderIdentity"
            ]
        )
    except Exception:
        return ""


def injected_revisions(fake: FakeApiServer) -> set[str]:
    found = set()
    for deployment in fake.list_objects("deployments.apps", SHOP):
        status = deployment["spec"]["template"]["metadata"]["annotations"]["sidecar-injector.io/status"]
        found.add(json.loads(status)["injected"][0]["revision"])
    return found


def test_one_replica_rolls_out_and_the_other_takes_over_when_it_is_killed(
    fake: FakeApiServer, tmp_path: Path, certificate: IssuedCertificate
) -> None:
    rolling = "updatePolicy: rolling\n"
    put_template(fake, "log-shipper", rolling + shipper_body("fluent-bit:3.1"))
    for name in NAMES:
        fake.create_object(admitted(fake, opted_in(workload("Deployment", name, SHOP), "log-shipper")))
    eventually(lambda: settled(fake), "deployed")
    first = injected_revisions(fake)
    updater = [
        "--rollout-updater",
        "--leader-election-lease-seconds",
        "2",
        "--rollout-interval",
        "1",
        "--rollout-poll-interval",
        "0.1",
    ]
    with ExitStack() as stack:
        servers = [serve(stack, fake, tmp_path / str(i), certificate, *updater) for i in range(2)]
        holder = eventually(lambda: lease_holder(fake), "a replica takes the Lease")
        [leader] = [s for s in servers if f"_{s.process.pid}_" in holder]
        [other] = [s for s in servers if s is not leader]
        assert metric(leader, "sidecar_injector_rollout_leader") == 1
        assert metric(other, "sidecar_injector_rollout_leader") == 0

        put_template(fake, "log-shipper", rolling + shipper_body("fluent-bit:3.2"))
        second = eventually(
            lambda: (r := injected_revisions(fake)) != first and len(r) == 1 and r, "rolled out"
        )
        eventually(
            lambda: metric(leader, "sidecar_injector_rollout_actions_total", result="done") == 3,
            "3 actions counted",
        )
        assert metric(other, "sidecar_injector_rollout_actions_total") == 0, "the follower did nothing"

        leader.process.send_signal(signal.SIGKILL)  # no release: the Lease must run out
        leader.process.wait(10)
        put_template(fake, "log-shipper", rolling + shipper_body("fluent-bit:3.3"))
        eventually(
            lambda: f"_{other.process.pid}_" in lease_holder(fake), "the other replica takes over", within=20
        )
        eventually(lambda: (r := injected_revisions(fake)) != second and len(r) == 1, "rolled out again")
        eventually(
            lambda: metric(other, "sidecar_injector_rollout_actions_total", result="done") == 3,
            "by the new leader",
        )
        assert re.search(r"lease .*: leading", other.log())
