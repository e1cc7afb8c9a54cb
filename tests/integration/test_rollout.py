"""``sidecar-injector rollout`` over real HTTP against the fake apiserver, whose controller finishes
(or fails) each rollout a moment after it starts: bounded, waiting for each workload, stopping at
the first failure, and changing nothing on a dry run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeApiServer
from tests.fakes.builders import pod, workload
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
from webhook.cli import main

pytestmark = pytest.mark.integration
NAMES = ("a", "b", "c", "d", "e")
WRITES = {"create", "update", "patch", "delete", "deletecollection"}


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with fake_cluster(rollout_delay=0.2) as server:
        yield server


@pytest.fixture
def outdated(fake: FakeApiServer, tmp_path: Path) -> Path:
    """Five injected Deployments, then the template's image fixed: all five outdated."""
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.1"))
    for name in NAMES:
        fake.create_object(admitted(fake, opted_in(workload("Deployment", name, SHOP), "log-shipper")))
    bare = pod("debug", SHOP)
    bare["metadata"]["annotations"] = {"sidecar-injector.io/inject": "log-shipper"}
    fake.create_object(admitted(fake, bare))
    wait_until_settled(fake)
    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.2"))
    return write_kubeconfig(fake, tmp_path / "kubeconfig")


def wait_until_settled(fake: FakeApiServer) -> None:
    import time

    deadline = time.monotonic() + 20
    while any(rolling(d) for d in fake.list_objects("deployments.apps", SHOP)):
        assert time.monotonic() < deadline, "the fake's controller did not finish"
        time.sleep(0.02)


def rolling(obj: dict[str, Any]) -> bool:
    return obj["metadata"].get("generation", 0) != (obj.get("status") or {}).get("observedGeneration")


def most_rolling_at_once(fake: FakeApiServer, since: int) -> int:
    """From the store's history: how many Deployments were between a new generation and its
    controller's report at the same time (what the cluster saw, not what the command says)."""
    state: dict[str, bool] = {}
    most = 0
    with fake.store.lock:
        for change in fake.store.history:
            if change.storage == "deployments.apps" and change.rv > since:
                state[change.obj["metadata"]["name"]] = rolling(change.obj)
                most = max(most, sum(state.values()))
    return most


def rollout(kubeconfig: Path, *args: str) -> int:
    return main(
        [
            "rollout",
            "--kubeconfig",
            str(kubeconfig),
            "--injector-namespace",
            INJECTOR,
            "--poll-interval",
            "0.05",
            *args,
        ]
    )


def revisions(fake: FakeApiServer) -> dict[str, str]:
    found = {}
    for deployment in fake.list_objects("deployments.apps", SHOP):
        status = deployment["spec"]["template"]["metadata"]["annotations"]["sidecar-injector.io/status"]
        found[deployment["metadata"]["name"]] = json.loads(status)["injected"][0]["revision"]
    return found


def drift_states(kubeconfig: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    capsys.readouterr()
    assert (
        main(["drift", "--kubeconfig", str(kubeconfig), "--injector-namespace", INJECTOR, "-o", "json"]) == 0
    )
    return {i["name"]: i["state"] for i in json.loads(capsys.readouterr().out)["items"]}


@pytest.mark.parametrize("bound", [1, 2])
def test_rollout_brings_every_workload_to_the_new_revision_within_its_bound(
    fake: FakeApiServer, outdated: Path, capsys: pytest.CaptureFixture[str], bound: int
) -> None:
    states = drift_states(outdated, capsys)
    assert states == {**dict.fromkeys(NAMES, "outdated"), "debug": "outdated"}, states
    since = fake.resource_version

    assert rollout(outdated, "--template", "log-shipper", "--max-in-flight", str(bound)) == 0

    out = capsys.readouterr().out
    assert most_rolling_at_once(fake, since) == bound
    assert len(set(revisions(fake).values())) == 1
    assert out.count("done     Deployment") == 5
    assert "listed   Pod shop/debug: a bare Pod is never deleted" in out
    patches = [r for r in fake.requests if r.verb == "patch"]
    assert len(patches) == 5 and all(r.content_type == "application/json-patch+json" for r in patches)
    assert all(r.json()[0]["op"] == "test" for r in patches), "every upgrade is guarded"
    assert drift_states(outdated, capsys) == {**dict.fromkeys(NAMES, "current"), "debug": "outdated"}
    assert fake.get_object("pods", SHOP, "debug")["metadata"]["annotations"], "a bare Pod is never touched"


def test_rollout_waits_for_each_workload_before_the_next(fake: FakeApiServer, outdated: Path) -> None:
    since = fake.resource_version
    assert rollout(outdated, "--template", "log-shipper") == 0
    # One at a time: each patch comes after the previous Deployment's controller reported it done.
    order = [r.path.rsplit("/", 1)[-1] for r in fake.requests if r.verb == "patch"]
    assert order == list(NAMES)
    assert most_rolling_at_once(fake, since) == 1


def test_rollout_stops_at_the_first_failure_and_says_which(
    fake: FakeApiServer, outdated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.stop_rollout_controller()
    fake.start_rollout_controller(delay=0.2, failing={("deployments.apps", SHOP, "b")})
    before = revisions(fake)

    assert rollout(outdated, "--template", "log-shipper") == 1

    err = capsys.readouterr().err
    assert "stopped: Deployment shop/b failed (exceeded its progress deadline" in err
    assert "3 not started, 0 still rolling, 1 done" in err
    after = revisions(fake)
    assert after["a"] != before["a"] and after["b"] != before["b"]
    assert [after[n] for n in ("c", "d", "e")] == [before[n] for n in ("c", "d", "e")]


def test_a_dry_run_prints_each_change_and_sends_none(
    fake: FakeApiServer, outdated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    version = fake.resource_version
    writes_before = sum(n for (verb, _), n in fake.verb_counts.items() if verb in WRITES)

    assert rollout(outdated, "--template", "log-shipper", "--dry-run") == 0

    out = capsys.readouterr().out
    assert out.count("would upgrade Deployment shop/") == 5
    assert out.count('    json patch: [{"op":"test"') == 5
    assert "dry run: nothing was changed" in out
    assert sum(n for (verb, _), n in fake.verb_counts.items() if verb in WRITES) == writes_before
    assert fake.resource_version == version


def test_an_unknown_template_is_an_error(outdated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rollout(outdated, "--template", "nope") == 1
    assert "template 'nope' is not served" in capsys.readouterr().err
