"""Issue 12 B: what the metadata-only Pod watch (``serve --watch-pods``) costs, against the fake API
server (tests/fakes, run in this process) holding 10,000 Pods.

    python -m bench.pod_watch                      # 10,000 Pods, 10 s of load per server, ~2 minutes
    python -m bench.pod_watch --pods 2000 --duration 5

Two ``serve --kube`` servers are measured one after the other against the same cluster: without the
watch (idle: the template watch only) and with ``--watch-pods``. For each: RSS (VmRSS) once the Pods
are counted (``sidecar_injector_pods`` sums to every opted-in Pod) and settled, peak RSS (VmHWM),
the time to that first count, then admission latency with wrk (scenario ``1-pod-rs``, 8 connections,
unpinned) while the fake changes 20 Pods a second, so the watch works during the load. The Pods look
like a Deployment's: labels, an owner, the opt-in, a status annotation of injection v2 and 1.5 KiB
of managedFields (which a real PartialObjectMetadata carries too). With two cores or more the server
runs alone on core 0 and this process (the fake apiserver, the churn) and wrk share core 1.

Budget: at most +30 MiB RSS over the idle server, and an admission p99 within noise of it.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.common import EXAMPLES, BenchError, JsonObj, progress
from bench.environment import Env, prepare
from bench.procfs import rss_mib
from bench.server import Server, check_answer, running
from bench.wrk import WrkLoad
from tests.fakes import FakeApiServer
from tests.support.cluster import write_kubeconfig
from webhook.core.status import Added, InjectionStatus, StatusEntry, render_status

INJECTOR, NAMESPACES = "injector", 20
SETTLE = 5.0
CHURN_PER_SECOND = 20
RSS_BUDGET_MIB = 30.0


def populate(fake: FakeApiServer, count: int) -> None:
    """``count`` Pods of Deployments spread over 20 namespaces, as admitted by the injector."""
    for manifest in sorted(EXAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(manifest.read_text()):
            if doc and doc.get("kind") == "ConfigMap":
                meta = doc["metadata"]
                fake.create(INJECTOR, meta["name"], doc["data"], meta.get("labels"))
    added = Added(containers=("logging-agent",), volumes=("varlog", "config-volume"))
    status = render_status(InjectionStatus((StatusEntry("logging-agent", "4f0af545969e5979", added),))).text
    managed = [
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "fieldsV1": {"f:metadata": {f"f:x{i}": {} for i in range(60)}},
        }
    ]
    for index in range(count):
        deployment = f"app-{index // 50:03d}"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{deployment}-5d8f7b9c4d-{index:05d}",
                "namespace": f"team-{index % NAMESPACES:02d}",
                "labels": {"app": deployment, "pod-template-hash": "5d8f7b9c4d", "tier": "backend"},
                "annotations": {
                    "initializer.kubernetes.io/logging-agent": "true",
                    "sidecar-injector.io/status": status,
                },
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": f"{deployment}-5d8f7b9c4d",
                        "uid": f"uid-{deployment}",
                        "controller": True,
                    }
                ],
                "managedFields": managed,
            },
            "spec": {
                "containers": [
                    {"name": "app", "image": "registry.example.com/app:1"},
                    {"name": "logging-agent", "image": "fluentd:1.30"},
                ]
            },
        }
        fake.create_object(pod)


@contextmanager
def churning(fake: FakeApiServer, count: int) -> Iterator[None]:
    """Relabel ``CHURN_PER_SECOND`` Pods a second in the background (watch events to follow)."""
    stop = threading.Event()

    def run() -> None:
        index = 0
        while not stop.wait(1 / CHURN_PER_SECOND):
            name = f"app-{index // 50:03d}-5d8f7b9c4d-{index:05d}"
            fake.patch_object(
                "pods",
                f"team-{index % NAMESPACES:02d}",
                name,
                {"metadata": {"labels": {"churn": str(index)}}},
            )
            index = (index + 1) % count

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def counted(server: Server) -> float:
    text = httpx.get(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("sidecar_injector_pods{")
    )


def measure(
    env: Env, fake: FakeApiServer, kubeconfig: Path, pods: int, duration: float, watch: bool
) -> JsonObj:
    scenario = env_scenarios["1-pod-rs"]
    extra = [
        "--kube",
        "--kubeconfig",
        str(kubeconfig),
        "--namespace",
        INJECTOR,
        "--pod-security-check",
        "off",
    ]
    extra += ["--watch-pods"] if watch else []
    with running(env, [], pinned=env.can_pin, extra_args=extra) as (server, ready):
        check_answer(server, scenario)
        started = time.monotonic()
        while watch and counted(server) < pods:
            if time.monotonic() - started > 120:
                raise BenchError(f"the Pods were not counted within 120 s:\n{server.log_tail()}")
            time.sleep(0.2)
        first_count = time.monotonic() - started
        time.sleep(SETTLE)
        rss, peak = rss_mib(server.pid), rss_mib(server.pid, "VmHWM")
        with churning(fake, pods):
            load = WrkLoad(env, server, scenario, 8, 2)
            time.sleep(duration)
            values = load.stop()
        if values["bad"] or values["shed"] or values["good"] == 0:
            raise BenchError(f"bad answers under load: {values}")
    result = {
        "watch": watch,
        "ready_s": ready,
        "counted_s": first_count if watch else None,
        "rss_mib": rss,
        "peak_mib": peak,
    }
    result.update({k: values[k] for k in ("requests", "p50_us", "p99_us") if k in values})
    p99 = values.get("p99_us", 0) / 1000
    which = "with" if watch else "without"
    progress(f"{which} --watch-pods: RSS {rss:.1f} MiB (peak {peak:.1f}), p99 {p99:.2f} ms")
    return result


env_scenarios: dict[str, Any] = {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=10_000, help="Pods in the fake cluster (default: 10000)")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of load per server (default: 10)"
    )
    args = parser.parse_args()
    env, scenarios = prepare()
    env_scenarios.update(scenarios)
    if env.can_pin:  # the server alone on core 0; this process (the fake, the churn) and wrk on core 1
        os.sched_setaffinity(0, {1})
    with FakeApiServer(history_window=2_000) as fake:
        for namespace in [INJECTOR, *(f"team-{i:02d}" for i in range(NAMESPACES))]:
            fake.create_namespace(namespace)
        started = time.monotonic()
        populate(fake, args.pods)
        progress(f"fake cluster: {args.pods} Pods in {time.monotonic() - started:.1f} s")
        kubeconfig = write_kubeconfig(fake, env.work / "kubeconfig")
        idle = measure(env, fake, kubeconfig, args.pods, args.duration, watch=False)
        watched = measure(env, fake, kubeconfig, args.pods, args.duration, watch=True)
    delta = watched["rss_mib"] - idle["rss_mib"]
    report = {"pods": args.pods, "idle": idle, "watch": watched, "rss_delta_mib": delta}
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "pod_watch.json").write_text(json.dumps(report, indent=2) + "\n")
    ms = {
        name: (r.get("p50_us", 0) / 1000, r.get("p99_us", 0) / 1000)
        for name, r in (("idle", idle), ("watch", watched))
    }
    print(
        f"\n{args.pods} Pods: RSS {idle['rss_mib']:.1f} -> {watched['rss_mib']:.1f} MiB (+{delta:.1f}, "
        f"budget +{RSS_BUDGET_MIB:.0f}); peak {watched['peak_mib']:.1f} MiB; counted "
        f"{watched['counted_s']:.1f} s after ready; p99 {ms['idle'][1]:.2f} -> {ms['watch'][1]:.2f} ms, "
        f"p50 {ms['idle'][0]:.2f} -> {ms['watch'][0]:.2f} ms (8 conns, {CHURN_PER_SECOND} Pod changes/s)"
    )
    return 0 if delta <= RSS_BUDGET_MIB else 1


if __name__ == "__main__":
    raise SystemExit(main())
