"""Scenario 2 of bench/reliability.py: certificate rotation under load.

The server reads its certificate from a folder updated the way the kubelet updates a Secret volume
(the writer the tests use, tests/support/kubelet.py). 24 keep-alive wrk connections and 8 with a
new TLS handshake per request run while the certificate is rotated several times, then replaced
by a mismatched pair (the old one must stay in service), then by a good one again.
"""

from __future__ import annotations

import random
import ssl
import statistics
import time
from datetime import UTC, datetime

from bench.checks import Options, Report, check_alive
from bench.common import HOST, JsonObj, progress
from bench.environment import Env
from bench.probes import HandshakeProber, ReadinessPoller
from bench.report import secs
from bench.reviews import Scenario
from bench.scraping import EXPIRY, READY, RELOADS, metric_sum, scrape
from bench.server import fresh_server
from bench.wrk import WrkLoad, failures
from tests.support.kubelet import KubeletVolume
from webhook.settings import DEFAULTS

POLL_SECONDS = DEFAULTS.cert_poll_seconds  # how often the server reads its certificate; not a flag


def measure(env: Env, opts: Options, report: Report, scenarios: dict[str, Scenario]) -> None:
    scenario = scenarios["1-pod-rs"]
    from cryptography import x509

    from webhook.tls import CertificateBundle, issue_ca, issue_serving_certificate, service_dns_names

    ca = issue_ca(now=datetime.now(UTC))

    def leaf() -> CertificateBundle:
        names = [*service_dns_names("sidecar-injector", "bench"), HOST]
        return issue_serving_certificate(
            ca, names, now=datetime.now(UTC), days=30, ip_addresses=["127.0.0.1"]
        )

    def serial(bundle: CertificateBundle) -> int:
        return int(x509.load_pem_x509_certificate(bundle.cert_pem).serial_number)

    def files(bundle: CertificateBundle) -> dict[str, bytes]:
        return {"tls.crt": bundle.cert_pem, "tls.key": bundle.key_pem, "ca.crt": ca.cert_pem}

    volume = KubeletVolume(env.work / "secret")
    current = leaf()
    volume.write(files(current))
    context = ssl.create_default_context(cadata=ca.cert_pem.decode())
    name = "rotation"
    result: JsonObj = {"cert_poll_seconds": POLL_SECONDS}
    report.results[name] = result
    with fresh_server(env, certs=volume.root) as server:
        poller = ReadinessPoller(server.port, context, interval=0.05)
        prober = HandshakeProber(server.port, context)
        poller.start()
        prober.start()
        keepalive = WrkLoad(env, server, scenario, 24, 1)
        handshakes = WrkLoad(env, server, scenario, 8, 1, close=True)
        load_started = time.monotonic()
        time.sleep(1.0)
        before = scrape(server.metrics_port)
        delays: list[float | None] = []
        for n in range(opts.rotations):
            new = leaf()
            switched = volume.write(files(new))
            seen = prober.wait_for_serial(serial(new), switched, timeout=15)
            delays.append(None if seen is None else seen - switched)
            progress(f"rotation #{n + 1}: new serial served after {secs(delays[-1])}")
            if seen is not None:
                current = new
            time.sleep(random.uniform(0.5, 0.5 + POLL_SECONDS))  # any phase of the server's poll
        good_done = time.monotonic()
        after_good = scrape(server.metrics_port)
        expiry_ok = (
            abs(
                metric_sum(after_good, EXPIRY)
                - x509.load_pem_x509_certificate(current.cert_pem).not_valid_after_utc.timestamp()
            )
            < 1
        )

        # A key that does not belong to the certificate: the old pair must stay in service.
        wrong = leaf()
        switched = volume.write(
            {"tls.crt": wrong.cert_pem, "tls.key": current.key_pem, "ca.crt": ca.cert_pem}
        )
        unready = poller.wait_for(lambda state: state != "200", switched, timeout=15)
        time.sleep(max(0.0, switched + 2 * POLL_SECONDS + 0.5 - time.monotonic()))
        during_mismatch = scrape(server.metrics_port)
        served = prober.serials_between(switched, time.monotonic())
        readyz_body = poller.bodies.get("503", b"").decode(errors="replace")
        progress(f"rotation: mismatched pair: unready after {secs(unready and unready - switched)}")

        fixed = leaf()
        switched_back = volume.write(files(fixed))
        recovered_serial = prober.wait_for_serial(serial(fixed), switched_back, timeout=15)
        recovered_ready = poller.wait_for(lambda state: state == "200", switched_back, timeout=15)
        time.sleep(0.5)
        keep_values, churn_values = keepalive.stop(), handshakes.stop()
        load_stopped = time.monotonic()
        poller.stop()
        prober.stop()
        after = scrape(server.metrics_port)
        check_alive(report, name, server)

    good_states = poller.states_between(load_started, good_done)
    handshake_errors = prober.errors()
    result.update(
        {
            "rotations": opts.rotations,
            "delays_s": delays,
            "wrk_keepalive": keep_values,
            "wrk_new_connection_per_request": churn_values,
            "load_seconds": load_stopped - load_started,
            "handshakes_probed": len(prober.records),
            "handshake_errors": handshake_errors[:10],
            "handshake_error_count": len(handshake_errors),
            "readiness_states_during_good_rotations": good_states,
            "readiness_polls": poller.polls,
            "reloads_ok": metric_sum(after_good, RELOADS, result="ok")
            - metric_sum(before, RELOADS, result="ok"),
            "expiry_gauge_follows": expiry_ok,
            "mismatch": {
                "unready_after_s": None if unready is None else unready - switched,
                "serials_served": sorted(str(s) for s in served),
                "old_serial": str(serial(current)),
                "still_old_serial": served == {serial(current)},
                "reload_errors": metric_sum(during_mismatch, RELOADS, result="error")
                - metric_sum(after_good, RELOADS, result="error"),
                "ready_gauge": metric_sum(during_mismatch, READY),
                "readyz_body": readyz_body[:300],
            },
            "recovery": {
                "new_serial_after_s": None if recovered_serial is None else recovered_serial - switched_back,
                "ready_after_s": None if recovered_ready is None else recovered_ready - switched_back,
                "reloads_ok": metric_sum(after, RELOADS, result="ok")
                - metric_sum(during_mismatch, RELOADS, result="ok"),
            },
        }
    )
    requests = int(keep_values["requests"] + churn_values["requests"])
    failed = failures(keep_values) + failures(churn_values) + len(handshake_errors)
    report.check(
        name,
        f"0 failed requests and handshakes through {opts.rotations} rotations, a mismatch and a recovery",
        f"{failed:,} failed; {requests:,} requests answered + {len(prober.records):,} handshakes",
        failed == 0 and requests > 0,
        hard=True,
    )
    served_all = all(d is not None for d in delays)
    report.check(
        name,
        "every new certificate reaches new handshakes",
        f"{sum(d is not None for d in delays)}/{len(delays)}",
        served_all,
        hard=True,
    )
    worst = max((d for d in delays if d is not None), default=None)
    report.check(
        name,
        f"new serial within the {POLL_SECONDS:g} s poll interval + 0.5 s",
        secs(worst),
        worst is not None and worst <= POLL_SECONDS + 0.5,
        hard=False,
    )
    report.check(
        name,
        "/readyz stays 200 through good rotations",
        ", ".join(good_states),
        good_states == ["200"],
        hard=False,
    )
    mismatch = result["mismatch"]
    report.check(
        name,
        "mismatched pair: the old serial is still served",
        "yes" if mismatch["still_old_serial"] else f"served {mismatch['serials_served']}",
        mismatch["still_old_serial"],
        hard=True,
    )
    report.check(
        name,
        "mismatched pair: /readyz turns non-200",
        secs(mismatch["unready_after_s"]),
        unready is not None,
        hard=True,
    )
    raised = mismatch["reload_errors"] >= 1 and mismatch["ready_gauge"] == 0
    report.check(
        name,
        f'mismatched pair: {RELOADS}{{result="error"}} rises and {READY} is 0',
        f"+{mismatch['reload_errors']:g}, ready {mismatch['ready_gauge']:g}",
        raised,
        hard=True,
    )
    recovery = result["recovery"]
    report.check(
        name,
        "a good pair afterwards: new serial served and /readyz 200 again",
        f"serial after {secs(recovery['new_serial_after_s'])}, ready after {secs(recovery['ready_after_s'])}",
        recovered_serial is not None and recovered_ready is not None,
        hard=True,
    )


def section(r: JsonObj, opts: Options) -> list[str]:
    if "mismatch" not in r:
        return []
    delays = [d for d in r["delays_s"] if d is not None]
    keep, churn = r["wrk_keepalive"], r["wrk_new_connection_per_request"]
    mismatch, recovery = r["mismatch"], r["recovery"]
    rows = [
        (
            "load",
            f"{r['load_seconds']:.1f} s of wrk: 24 keep-alive connections"
            f" ({int(keep['requests']):,} requests, {failures(keep)} failed) + 8 with a new TLS"
            f" handshake per request ({int(churn['requests']):,} requests, {failures(churn)} failed)",
        ),
        (
            "verifying handshakes (a new connection every 20 ms, CA and name checked)",
            f"{r['handshakes_probed']:,}, {r['handshake_error_count']} failed",
        ),
        (
            f"{r['rotations']} rotations: `..data` switch → a new handshake completes with the new serial",
            (
                f"median {secs(statistics.median(delays))}, max {secs(max(delays))}"
                f" ({', '.join(f'{d:.2f}' for d in delays)} s;"
                f" the server polls every {r['cert_poll_seconds']:g} s)"
                if delays
                else "never"
            ),
        ),
        (
            f'{RELOADS}{{result="ok"}} over the rotations',
            f"+{r['reloads_ok']:g}; expiry gauge = the served certificate's notAfter:"
            f" {'yes' if r['expiry_gauge_follows'] else 'NO'}",
        ),
        (
            "/readyz during good rotations (polled every 50 ms)",
            ", ".join(r["readiness_states_during_good_rotations"]),
        ),
        (
            "mismatched key and certificate: serials served afterwards",
            "the old one only" if mismatch["still_old_serial"] else ", ".join(mismatch["serials_served"]),
        ),
        ("mismatched pair: switch → /readyz non-200", secs(mismatch["unready_after_s"])),
        ("mismatched pair: /readyz body", f"`{mismatch['readyz_body'][:150]}`"),
        (
            "mismatched pair: metrics",
            f'{RELOADS}{{result="error"}} +{mismatch["reload_errors"]:g},'
            f" {READY} {mismatch['ready_gauge']:g}",
        ),
        (
            "a good pair after the mismatch",
            f"new serial after {secs(recovery['new_serial_after_s'])}, /readyz 200 after"
            f" {secs(recovery['ready_after_s'])}",
        ),
    ]
    return [
        "## 2. Certificate rotation under load",
        "",
        "The server reads `tls.crt`/`tls.key` from a folder laid out like a kubelet Secret volume (`..data`"
        " symlink to a timestamped folder, replaced by an atomic rename); new leaves from the same CA.",
        "",
        "| measure | value |",
        "|---|---|",
        *(f"| {a} | {b} |" for a, b in rows),
        "",
    ]
