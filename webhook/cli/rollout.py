"""``rollout``: bring the workloads that run a template outdated, or miss it, to its current revision,
a bounded number at a time, waiting for each, stopping at the first that fails; ``--dry-run`` prints
the plan and every change it would send, and sends nothing."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from webhook.cli import arguments, cluster, options
from webhook.settings import DEFAULTS


def register(commands: Any) -> None:
    rollout = options.command(
        commands,
        "rollout",
        "bring outdated and missing injections of a template to its current revision",
        "Roll out a template's current revision: pod injection restarts each workload (as kubectl "
        "rollout restart does); workload injection replaces what the injector added, in one patch. "
        "At most --max-in-flight workloads roll at once, each waited for; the first failure stops it. "
        "Bare Pods are listed, never deleted.",
    )
    rollout.add_argument(
        "--template", required=True, type=arguments.non_empty, metavar="NAME", help="the template"
    )
    cluster.add_scope_flags(rollout)
    rollout.add_argument(
        "--max-in-flight",
        type=arguments.integer(1),
        default=DEFAULTS.rollout_max_in_flight,
        metavar="N",
        help="workloads rolling out at once",
    )
    rollout.add_argument(
        "--timeout",
        type=arguments.seconds(0, inclusive=False),
        default=DEFAULTS.rollout_timeout,
        metavar="SECONDS",
        help="a workload not done after this long fails the rollout",
    )
    rollout.add_argument(
        "--poll-interval",
        type=arguments.seconds(0, inclusive=False),
        default=DEFAULTS.rollout_poll_seconds,
        metavar="SECONDS",
        help="how often a rolling workload's status is read",
    )
    rollout.add_argument("--dry-run", action="store_true", help="print what would be done; change nothing")
    cluster.add_cluster_flags(rollout)
    rollout.set_defaults(run=run_rollout)


def run_rollout(args: argparse.Namespace) -> int:
    from webhook.kube.client import KubeError
    from webhook.lifecycle.drift import drift_rows
    from webhook.lifecycle.inventory import take_inventory
    from webhook.lifecycle.planning import plan

    resources, namespace = cluster.connect(args)
    templates = cluster.current_templates(args, resources)
    policy = options.mode_policy(args)
    scope = cluster.scope_namespace(args, namespace)
    if not any(t.name == args.template for t in templates.templates.values()):
        print(f"error: template {args.template!r} is not served (see drift for what is)", file=sys.stderr)
        return 1
    try:
        inventory = take_inventory(resources, scope, policy)
    except KubeError as exc:
        print(f"error: cannot list workloads and Pods: {exc}", file=sys.stderr)
        return 1
    steps = plan(drift_rows(inventory, templates, policy), inventory, templates, policy, args.template)
    where = "every namespace" if scope is None else f"namespace {scope}"
    rolled = [s for s in steps if s.action != "list"]
    print(
        f"template {args.template!r} in {where}: {len(rolled)} workload(s) to roll out, "
        f"{len(steps) - len(rolled)} listed; at most {args.max_in_flight} at a time"
    )
    if args.dry_run:
        return _dry_run(steps, inventory, templates, policy, args.template)
    return _execute(args, resources, templates, policy, steps)


def _dry_run(steps: list[Any], inventory: Any, templates: Any, policy: Any, template: str) -> int:
    from webhook.lifecycle.planning import prepare

    for step in steps:
        if step.action == "list":
            print(f"listed   {step}: {step.why}")
            continue
        obj = inventory.workloads[(step.kind, step.namespace, step.name)].obj
        change = prepare(step, obj, templates, policy, template)
        print(f"would {step.action:<7} {step}: {step.why}")
        if not isinstance(change, str):
            print(f"    {change.patch_type} patch: {json.dumps(change.patch, separators=(',', ':'))}")
    print("dry run: nothing was changed")
    return 0


def _execute(args: argparse.Namespace, resources: Any, templates: Any, policy: Any, steps: list[Any]) -> int:
    from webhook.lifecycle.executor import Executor, Limits

    def report(what: str, step: Any, message: str) -> None:
        print(f"{what:<8} {step}: {message}", flush=True)

    limits = Limits(args.max_in_flight, args.timeout, args.poll_interval)
    result = Executor(resources, templates, policy, args.template, limits, report).run(steps)
    if result.failed is not None:
        step, reason = result.failed
        print(
            f"stopped: {step} failed ({reason}); {len(result.not_started)} not started, "
            f"{len(result.rolling)} still rolling, {len(result.done)} done",
            file=sys.stderr,
        )
        return 1
    print(f"{len(result.done)} done, {len(result.listed)} listed")
    return 0
