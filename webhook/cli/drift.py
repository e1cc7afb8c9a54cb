"""``drift``: which workloads and bare Pods run an outdated template, miss an injection, or run a
template that is gone; as a table, JSON or YAML."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from webhook.cli import cluster, options


def register(commands: Any) -> None:
    drift = options.command(
        commands,
        "drift",
        "show which workloads run an outdated template or miss an injection",
        "For each workload and bare Pod: the templates it runs or asks for, the revisions running, "
        "the revision served now, and the state: current, outdated, missing-injection (opted in but "
        "not injected: created while the webhook was down, or skipped) or template-gone.",
    )
    cluster.add_scope_flags(drift)
    drift.add_argument(
        "-o", "--output", choices=("table", "json", "yaml"), default="table", help="output format"
    )
    cluster.add_cluster_flags(drift)
    drift.set_defaults(run=show_drift)


def show_drift(args: argparse.Namespace) -> int:
    from webhook.kube.client import KubeError
    from webhook.lifecycle.drift import drift_rows, render
    from webhook.lifecycle.inventory import take_inventory

    resources, namespace = cluster.connect(args)
    templates = cluster.current_templates(args, resources)
    policy = options.mode_policy(args)
    try:
        inventory = take_inventory(resources, cluster.scope_namespace(args, namespace), policy)
    except KubeError as exc:
        print(f"error: cannot list workloads and Pods: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(render(drift_rows(inventory, templates, policy), args.output))
    return 0
