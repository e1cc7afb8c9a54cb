"""What template variables cost an admission: the same review and the same injection, with and
without ``$[...]`` references in the template.

Run from the repository root:  python -m bench.variables [--reviews 200] [--rounds 101]

In-process, so the figure is the decision's own CPU (``AdmissionDecision.answer``: envelope parse,
engine, patch verification, encoding), with no HTTP, TLS or wrk noise around it, after the garbage
collector is settled as ``serve`` settles it. The body is ``run.py``'s scenario 1 (a 3.7 KiB Pod
created by a ReplicaSet, opted in). Three template sets serve its ``logging-agent``: one whose
image, args, env values and an annotation hold seven references (namespace, name, labels,
annotations, service account, the owning ReplicaSet); the same with those strings written out as
they render for this Pod (the two patches are checked equal first, but for the status annotation's
revision); and the legacy example ``run.py`` serves. Each round times ``--reviews`` answers of each
set in turn with ``time.process_time``. Reported per set: the best round (the least disturbed by
other processes) and the median; and the ratio of the best rounds, the headline (target: at most
1.10), with the median of the per-round ratios (both halves of a round ran under the same load).

Numbers go to a report, never to assertions; on a shared machine say "noisy" with them.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from bench.common import LEGACY_TEMPLATE, RESULTS, progress
from bench.reviews import scenario_bodies
from tests.support.templates import template_set
from webhook.core import InjectionPolicy
from webhook.server.decision import AdmissionDecision
from webhook.transport.memory import settle_garbage_collector

VARIABLE_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: logging-agent, labels: {sidecar-injector.io/template: "true"}}
data:
  template: |
    containers:
    - name: logging-agent
      image: "gcr.io/google_containers/fluentd:$[labels.fluentd-version|1.30]"
      args:
      - "--tag=$[namespace]/$[labels.app.kubernetes.io/name]"
      - "--pod=$[name]"
      - "--owner=$[workload.kind]/$[workload.name|none]"
      env:
      - name: FLUENTD_ARGS
        value: "-c /etc/fluentd-config/fluentd.conf --service-account $[serviceAccount]"
      - name: APP_VERSION
        value: "$[labels.app.kubernetes.io/version|unknown]"
      volumeMounts:
      - {name: varlog, mountPath: /var/log}
      - {name: config-volume, mountPath: /etc/fluentd-config}
    volumes:
    - {name: varlog, emptyDir: {}}
    - name: config-volume
      configMap: {name: fluentd-config}
    annotations:
      logging.example.com/scrape-port: "$[annotations.prometheus.io/port|none]"
"""
LITERAL_TEMPLATE = (
    VARIABLE_TEMPLATE.replace("$[labels.fluentd-version|1.30]", "1.30")
    .replace("$[namespace]/$[labels.app.kubernetes.io/name]", "shop/checkout-api")
    .replace("$[name]", "checkout-api-7c9f6d5b8d-")
    .replace("$[workload.kind]/$[workload.name|none]", "ReplicaSet/checkout-api-7c9f6d5b8d")
    .replace("$[serviceAccount]", "checkout-api")
    .replace("$[labels.app.kubernetes.io/version|unknown]", "2.14.3")
    .replace("$[annotations.prometheus.io/port|none]", "9102")
)


def _same_patch(one: bytes, other: bytes) -> bool:
    """The two answers inject the same (the status annotation's revision, a hash of the template's
    text, differs by construction)."""
    ops = []
    for answer in (one, other):
        patch = json.loads(base64.b64decode(json.loads(answer)["response"]["patch"]))
        ops.append([op for op in patch if not op["path"].endswith("sidecar-injector.io~1status")])
    return ops[0] == ops[1] and len(ops[0]) > 0


def _decision(text: str) -> AdmissionDecision:
    templates = template_set(text)
    return AdmissionDecision(lambda: templates, InjectionPolicy())


def _time(answer: Callable[[bytes], object], body: bytes, reviews: int) -> float:
    started = time.process_time()
    for _ in range(reviews):
        answer(body)
    return (time.process_time() - started) / reviews * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--reviews", type=int, default=200, help="answers timed per set and round (default 200)"
    )
    parser.add_argument("--rounds", type=int, default=101, help="rounds (default 101)")
    args = parser.parse_args(argv)
    [scenario] = [s for s in scenario_bodies() if s.key == "1-pod-rs"]
    body = scenario.body
    with_variables = _decision(VARIABLE_TEMPLATE)
    first = with_variables.answer(body)
    if first.outcome != "injected":
        progress(f"the template with variables was not injected: {first.reason} {first.detail}")
        return 2
    literal = _decision(LITERAL_TEMPLATE)
    if "$[" in LITERAL_TEMPLATE or not _same_patch(literal.answer(body).body, first.body):
        progress("the two templates do not inject the same: the comparison would be unfair")
        return 2
    sets = {
        "with variables": with_variables,
        "same, written out": literal,
        "legacy example (run.py)": _decision(LEGACY_TEMPLATE.read_text()),
    }
    settle_garbage_collector()  # as serve does before it listens
    timings: dict[str, list[float]] = {name: [] for name in sets}
    for round_ in range(args.rounds):
        for name, decision in sets.items():
            timings[name].append(_time(decision.answer, body, args.reviews))
        if (round_ + 1) % 10 == 0:
            progress(f"round {round_ + 1}/{args.rounds}")
    return _report(timings, args)


def _report(timings: dict[str, list[float]], args: argparse.Namespace) -> int:
    best = {name: min(values) for name, values in timings.items()}
    pairs = zip(timings["with variables"], timings["same, written out"], strict=True)
    ratios = sorted(with_ / without for with_, without in pairs)
    ratio = best["with variables"] / best["same, written out"]
    lines = [
        "# Template variables: admission cost (bench/variables.py)",
        "",
        f"Scenario 1 (Pod from a ReplicaSet, 3.7 KiB), {args.rounds} rounds x {args.reviews} answers "
        "per set, CPU time per answer:",
        "",
        "| template | best round, us | median round, us |",
        "|---|---|---|",
    ]
    for name, values in timings.items():
        lines.append(f"| {name} | {best[name]:.1f} | {statistics.median(values):.1f} |")
    verdict = "met" if ratio <= 1.10 else "missed"
    quartiles = f"{ratios[len(ratios) // 4]:.3f}-{ratios[(3 * len(ratios)) // 4]:.3f}"
    lines += [
        "",
        f"variables / written out: {ratio:.3f} on the best rounds (target <= 1.10: {verdict}); "
        f"per round: median {statistics.median(ratios):.3f}, interquartile {quartiles}",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "variables.md").write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
