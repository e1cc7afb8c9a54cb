"""The chart's PrometheusRule, evaluated by promtool against metrics scraped from real servers.

Each scenario starts `sidecar-injector serve` (one or two replicas), drives it into one condition
(failing reviews, stalls, a missing or rejected template, a Pod Security conflict, a certificate
close to expiry or failing to reload, a dead replica) while normal reviews keep flowing, and
scrapes it tick by tick. promtool replays the scrapes (tests/support/prometheus.py) and checks
that exactly the expected alerts fire at the end, that nothing fires in the first minute, and
that no other alert is ever firing or even pending. The healthy scenario shows every alert quiet.

Rules are rendered with webhook.timeoutSeconds=1, so the latency alert's threshold (half the
timeout) is 0.5 s: a stall the test can cause in a few seconds.
"""

from __future__ import annotations

import json
import shutil
import signal
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import pytest

from tests.fakes import FakeApiServer
from tests.fakes.builders import pod
from tests.integration.chart_helpers import NAMESPACE, one, render, require_helm
from tests.support.cluster import (
    INJECTOR,
    SHOP,
    admitted,
    opted_in,
    put_template,
    shipper_body,
    write_kubeconfig,
)
from tests.support.prometheus import (
    Recorder,
    alert_checks,
    exported_series_names,
    metric_names,
    promtool_test,
    require_promtool,
)
from tests.support.replicas import (
    BROKEN_TEMPLATE,
    EXAMPLES,
    JOB,
    certificate,
    everyone,
    native_pod,
    normal_traffic,
    record,
    replicas,
    total,
    wait_for,
)
from tests.support.reviews import opted_in_pod, review

pytestmark = pytest.mark.integration

ALERTS = {
    "SidecarInjectorReviewErrors",
    "SidecarInjectorLatencyNearTimeout",
    "SidecarInjectorTemplateNotFound",
    "SidecarInjectorPodSecurityConflict",
    "SidecarInjectorNoReadyReplica",
    "SidecarInjectorTemplateRejected",
    "SidecarInjectorCertificateExpiresSoon",
    "SidecarInjectorCertificateExpiryCritical",
    "SidecarInjectorCertificateReloadFailed",
    "SidecarInjectorPodsOutdated",
}


@pytest.fixture(scope="module")
def rule_groups() -> list[dict[str, Any]]:
    sets = [
        "prometheusRule.enabled=true",
        "webhook.timeoutSeconds=1",
        "podMetrics.enabled=true",  # SidecarInjectorPodsOutdated exists only then
        "prometheusRule.podsOutdatedMinutes=10",  # within the replayed 17.5 minutes
    ]
    docs = render(require_helm(), sets=sets)
    groups: list[dict[str, Any]] = one(docs, "PrometheusRule")["spec"]["groups"]
    return groups


@pytest.fixture(scope="module")
def promtool() -> str:
    return require_promtool()


def check(
    promtool: str, groups: list[dict[str, Any]], recorder: Recorder, tmp_path: Path, **firing: int
) -> None:
    assert set(firing) <= ALERTS
    checks = alert_checks(recorder.end, firing)
    promtool_test(promtool, groups, recorder.input_series(), checks, tmp_path / "promtool")


# --- the rules themselves ----------------------------------------------------------------------------


def test_every_alert_is_tested_and_documented(rule_groups: list[dict[str, Any]]) -> None:
    rules = [rule for group in rule_groups for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} == ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert set(rule["annotations"]) == {"summary", "description", "runbook"}
        assert all(len(text) > 30 for text in rule["annotations"].values()), rule["alert"]


def test_every_expression_parses_and_reads_only_metrics_the_server_exports(
    rule_groups: list[dict[str, Any]], tmp_path: Path
) -> None:
    with replicas(tmp_path, "--templates", str(EXAMPLES)) as [replica]:
        text = httpx.get(f"http://127.0.0.1:{replica.server.metrics_port}/metrics").text
    exported = exported_series_names(text)
    for rule in (rule for group in rule_groups for rule in group["rules"]):
        names = metric_names(promql_parser.parse(rule["expr"]))
        assert names, rule["alert"]
        assert names <= exported, f"{rule['alert']} reads {names - exported}, which no server exports"
        assert all(f'job="{JOB}",namespace="{NAMESPACE}"' in s for s in selectors(rule["expr"]))


def selectors(expr: str) -> list[str]:
    return [part.split("}")[0] for part in expr.split("{")[1:]]


# --- scenarios -------------------------------------------------------------------------------------------


def test_a_healthy_injector_raises_no_alert(
    promtool: str, rule_groups: list[dict[str, Any]], tmp_path: Path
) -> None:
    with replicas(tmp_path, "--templates", str(EXAMPLES), count=2) as running:
        recorder = record(running, lambda _: everyone(running, normal_traffic))
    check(promtool, rule_groups, recorder, tmp_path)


def test_failing_reviews_raise_review_errors(
    promtool: str, rule_groups: list[dict[str, Any]], tmp_path: Path
) -> None:
    with replicas(tmp_path, "--templates", str(EXAMPLES), "--max-body-bytes", "20000") as [replica]:
        oversized = json.dumps(review(opted_in_pod())).encode() + b" " * 30_000

        def each_tick(tick: int) -> None:
            normal_traffic(replica)
            if tick >= 3:
                # Past the API server's ?timeout= before it is handled, and too large: both are
                # answered 503/413, which the API server treats as a failed call.
                assert replica.admit(opted_in_pod(), "?timeout=0s").status_code == 503
                assert replica.post(oversized).status_code == 413

        recorder = record([replica], each_tick)
    check(promtool, rule_groups, recorder, tmp_path, SidecarInjectorReviewErrors=1)


# Where in a heavy review's round trip the server is paused, as fractions of it. Measured on the
# project's machine, compiled, idle and with both cores busy: pauses at 0.2 to 0.5 of the trip
# caught the review 6 times in 6, later ones less often (the answer's download and parsing end it).
PAUSE_POINTS = (0.35, 0.25, 0.5, 0.3, 0.45)


def test_stalled_reviews_raise_latency_near_timeout(
    promtool: str, rule_groups: list[dict[str, Any]], tmp_path: Path
) -> None:
    """A CPU-starved server (what a tight CPU limit does to it) is simulated with SIGSTOP/SIGCONT
    while it works on a heavy review (log-shipper into 900 containers, below the 1,000 bound): the
    review caught by the pause takes longer than the 0.5 s threshold. The review lasts tens of
    milliseconds (about 30 compiled, 45 interpreted, on the project's 2-core machine), between the
    upload and the answer: fixed offsets of 20 to 80 ms missed it once the compiled app made it
    shorter, so each tick times the round trip and pauses at fractions of it. Each stalled tick is
    confirmed in the histogram before it is scraped."""
    heavy = opted_in_pod("log-shipper")
    heavy["spec"]["containers"] = [{"name": f"c{i}", "image": "app"} for i in range(900)]
    histogram = "sidecar_injector_review_duration_seconds"
    with replicas(tmp_path, "--templates", str(EXAMPLES)) as [replica]:

        def slow() -> float:
            samples = replica.scrape()  # one scrape: the count and the bucket must agree
            return total(samples, f"{histogram}_count") - total(samples, f"{histogram}_bucket", le="0.5")

        def round_trip() -> float:
            started = time.perf_counter()
            assert replica.admit(heavy).status_code == 200
            return time.perf_counter() - started

        def stall_one_review(offset: float) -> None:
            sender = threading.Thread(target=replica.admit, args=(heavy,))
            sender.start()
            time.sleep(offset)  # the server is now, most likely, inside the review
            replica.server.process.send_signal(signal.SIGSTOP)
            time.sleep(0.6)
            replica.server.process.send_signal(signal.SIGCONT)
            sender.join(30)

        def each_tick(tick: int) -> None:
            normal_traffic(replica, count=3)
            if tick < 2:
                return
            before = slow()
            trip = statistics.median(round_trip() for _ in range(3))  # unpaused: not slow
            for attempt in range(20):
                stall_one_review(trip * PAUSE_POINTS[attempt % len(PAUSE_POINTS)])
                if slow() > before:
                    return
            raise AssertionError(f"tick {tick}: no review was caught by 20 pauses (round trip {trip:.3f} s)")

        recorder = record([replica], each_tick)
    check(promtool, rule_groups, recorder, tmp_path, SidecarInjectorLatencyNearTimeout=1)


def test_a_missing_template_raises_template_not_found(
    promtool: str, rule_groups: list[dict[str, Any]], tmp_path: Path
) -> None:
    with replicas(tmp_path, "--templates", str(EXAMPLES)) as [replica]:

        def each_tick(tick: int) -> None:
            normal_traffic(replica)
            if tick == 20:
                answer = replica.admit(native_pod("no-such-template")).json()["response"]
                assert answer["allowed"] is True and "not found" in answer["warnings"][0]

        recorder = record([replica], each_tick)
    check(promtool, rule_groups, recorder, tmp_path, SidecarInjectorTemplateNotFound=1)


def test_a_pod_security_conflict_raises_an_alert(
    promtool: str, rule_groups: list[dict[str, Any]], tmp_path: Path
) -> None:
    """Every namespace enforces restricted; log-shipper meets it, the legacy logging-agent does not.
    The first conflict is the one that matters: the series it creates must alert too."""
    args = ("--templates", str(EXAMPLES), "--pod-security-default-level", "restricted")
    with replicas(tmp_path, *args) as [replica]:

        def each_tick(tick: int) -> None:
            normal_traffic(replica, template="log-shipper")
            if tick == 20:
                answer = replica.admit(opted_in_pod("logging-agent")).json()["response"]
                assert answer["allowed"] is True and any("restricted" in w for w in answer["warnings"])

        recorder = record([replica], each_tick)
    check(promtool, rule_groups, recorder, tmp_path, SidecarInjectorPodSecurityConflict=1)


def test_a_rejected_template_change_alerts_after_fifteen_minutes(
    promtool: str, rule_groups: list[dict[str, Any]], tmp_path: Path
) -> None:
    folder = tmp_path / "templates"
    shutil.copytree(EXAMPLES, folder)
    with replicas(tmp_path, "--templates", str(folder)) as [replica]:

        def each_tick(tick: int) -> None:
            normal_traffic(replica, template="log-shipper")
            if tick == 1:
                (folder / "log-shipper.yaml").write_text(BROKEN_TEMPLATE)
                wait_for(
                    lambda: replica.metric("sidecar_injector_template_rejected_timestamp_seconds") > 0,
                    "the broken template to be rejected",
                )

        recorder = record([replica], each_tick)
    check(promtool, rule_groups, recorder, tmp_path, SidecarInjectorTemplateRejected=1)


def test_certificates_close_to_expiry_raise_a_warning_or_a_critical_alert(
    promtool: str, rule_groups: list[dict[str, Any]], tmp_path: Path
) -> None:
    """Two replicas: one serves a certificate valid for 10 more days (warning only), the other one
    valid for 1 more day (critical only)."""
    with replicas(tmp_path, "--templates", str(EXAMPLES), count=2, days=(10, 1)) as running:
        recorder = record(running, lambda _: everyone(running, normal_traffic))
    check(
        promtool,
        rule_groups,
        recorder,
        tmp_path,
        SidecarInjectorCertificateExpiresSoon=1,
        SidecarInjectorCertificateExpiryCritical=1,
    )


def test_a_failed_certificate_reload_alerts_while_the_other_replica_stays_ready(
    promtool: str, rule_groups: list[dict[str, Any]], tmp_path: Path
) -> None:
    with replicas(tmp_path, "--templates", str(EXAMPLES), count=2) as running:
        failing = running[1]

        def each_tick(tick: int) -> None:
            for replica in running:
                if replica is not failing or tick < 3:
                    normal_traffic(replica)
            if tick == 3:
                # A renewal gone wrong: the key of another certificate next to this certificate.
                other = certificate(tmp_path / "other")
                (failing.certs / "tls.key").write_bytes((other / "tls.key").read_bytes())
                wait_for(
                    lambda: failing.metric("sidecar_injector_certificate_reloads_total", result="error") > 0,
                    "the reload to fail",
                )

        recorder = record(running, each_tick)
        assert failing.metric("sidecar_injector_ready") == 0
    check(promtool, rule_groups, recorder, tmp_path, SidecarInjectorCertificateReloadFailed=1)


def test_a_dead_injector_raises_no_ready_replica(
    promtool: str, rule_groups: list[dict[str, Any]], tmp_path: Path
) -> None:
    with replicas(tmp_path, "--templates", str(EXAMPLES)) as [replica]:

        def each_tick(tick: int) -> None:
            if tick < 5:
                normal_traffic(replica)
            elif tick == 5:
                replica.server.process.kill()
                replica.server.process.wait(10)

        recorder = record([replica], each_tick)
    assert not recorder.ticks[-1][1], "the dead server was still scraped"
    check(promtool, rule_groups, recorder, tmp_path, SidecarInjectorNoReadyReplica=1)


def test_pods_left_on_an_old_template_revision_raise_pods_outdated(
    promtool: str, rule_groups: list[dict[str, Any]], tmp_path: Path
) -> None:
    with FakeApiServer() as fake:
        for namespace in (INJECTOR, SHOP):
            fake.create_namespace(namespace)
        put_template(fake, "log-shipper", shipper_body("fluent-bit:3.1", mode="pod"))
        for name in ("web-1", "web-2"):
            fake.create_object(
                admitted(fake, opted_in(pod(name, SHOP), "log-shipper", on_pod_template=False))
            )
        kube = ["--kube", "--kubeconfig", str(write_kubeconfig(fake, tmp_path / "kubeconfig"))]
        with replicas(tmp_path, *kube, "--namespace", INJECTOR, "--watch-pods") as [replica]:
            wait_for(
                lambda: replica.metric("sidecar_injector_pods", template="log-shipper", state="current") == 2,
                "the Pod watch to count the injected Pods",
            )

            def each_tick(tick: int) -> None:
                normal_traffic(replica, template="log-shipper")
                if tick == 1:  # the everyday fix: a new image, and nobody restarts the Pods
                    put_template(fake, "log-shipper", shipper_body("fluent-bit:3.2", mode="pod"))
                    wait_for(
                        lambda: replica.metric("sidecar_injector_pods", state="outdated") == 2,
                        "the Pods to count as outdated",
                    )

            recorder = record([replica], each_tick)
    check(promtool, rule_groups, recorder, tmp_path, SidecarInjectorPodsOutdated=1)
