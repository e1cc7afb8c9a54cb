"""What the commands that read the cluster (``drift``, ``rollout``) share: which namespaces, how to
reach the API, and where the current templates come from (the server's own template flags, so that
the revisions compared are the ones the server serves); and ``serve``'s options for the same work
done by the server itself (the Pod watch and the rolling updater)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from webhook.cli import arguments, options
from webhook.settings import DEFAULTS

if TYPE_CHECKING:
    from webhook.core import TemplateSet
    from webhook.kube.resources import Resources


def add_scope_flags(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        type=arguments.dns_label,
        metavar="NS",
        help="look at workloads and Pods in this namespace (default: the kubeconfig context's, as "
        "kubectl's; in a pod, its own)",
    )
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="look at workloads and Pods in every namespace"
    )


def add_cluster_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        metavar="FILE",
        help="use this kubeconfig (default: in-cluster credentials in a pod, else $KUBECONFIG or "
        "~/.kube/config)",
    )
    source = parser.add_argument_group("current templates (give the server's own template flags)")
    source.add_argument(
        "--templates",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="read templates from this folder instead of the API (repeatable)",
    )
    source.add_argument(
        "--injector-namespace",
        type=arguments.dns_label,
        default=DEFAULTS.namespace,
        metavar="NS",
        help="the injector's own namespace (serve --namespace), whose templates serve every namespace",
    )
    source.add_argument(
        "--watch-namespace",
        action="append",
        type=arguments.dns_label,
        default=[],
        metavar="NS",
        help="also read templates from this namespace, for workloads in it (repeatable)",
    )
    source.add_argument(
        "--watch-all-namespaces", action="store_true", help="read templates from every namespace"
    )
    source.add_argument(
        "--shared-template-namespace",
        action="append",
        type=arguments.dns_label,
        default=[],
        metavar="NS",
        help="templates from this namespace serve every namespace (repeatable)",
    )
    options.add_opt_in_flags(parser)
    options.add_mode_flags(parser)
    options.add_template_flags(parser)


def add_server_flags(serve: argparse.ArgumentParser) -> None:
    """``serve``: the Pod watch, the rolling updater and its leader election (each needs --kube)."""
    group = serve.add_argument_group("day 2 (need --kube and the chart's lifecycle RBAC)")
    group.add_argument(
        "--watch-pods",
        action="store_true",
        help="watch Pods (metadata only) and export sidecar_injector_pods{template,state}",
    )
    group.add_argument(
        "--rollout-updater",
        action="store_true",
        help="roll workloads of updatePolicy: rolling templates to new revisions; one replica at a "
        "time, elected on a Lease in the injector's namespace",
    )
    group.add_argument(
        "--rollout-max-in-flight",
        type=arguments.integer(1),
        default=DEFAULTS.rollout_max_in_flight,
        metavar="N",
        help="workloads the updater rolls out at once",
    )
    seconds = arguments.seconds(0, inclusive=False)
    for flag, default, what in (
        ("--rollout-timeout", DEFAULTS.rollout_timeout, "a workload not done after this long fails"),
        ("--rollout-poll-interval", DEFAULTS.rollout_poll_seconds, "how often a rolling workload is read"),
        ("--rollout-interval", DEFAULTS.rollout_interval, "how often the updater looks for drift"),
        ("--leader-election-lease-seconds", DEFAULTS.leader_election_lease_seconds, "the Lease's duration"),
    ):
        group.add_argument(flag, type=seconds, default=default, metavar="SECONDS", help=what)
    group.add_argument(
        "--leader-election-lease-name",
        type=arguments.dns_label,
        default=DEFAULTS.leader_election_lease_name,
        metavar="NAME",
        help="the Lease the updater's replicas compete for",
    )


def server_settings(args: argparse.Namespace) -> dict[str, object]:
    """The Settings fields of ``add_server_flags``."""
    return {
        "watch_pods": args.watch_pods,
        "rollout_updater": args.rollout_updater,
        "rollout_max_in_flight": args.rollout_max_in_flight,
        "rollout_timeout": args.rollout_timeout,
        "rollout_poll_seconds": args.rollout_poll_interval,
        "rollout_interval": args.rollout_interval,
        "leader_election_lease_seconds": args.leader_election_lease_seconds,
        "leader_election_lease_name": args.leader_election_lease_name,
    }


def scope_namespace(args: argparse.Namespace, default: str) -> str | None:
    """The namespace looked at (``default``: the kubeconfig's); None for all of them."""
    return None if args.all_namespaces else str(args.namespace or default)


def connect(args: argparse.Namespace) -> tuple[Resources, str]:
    """The API client and the kubeconfig's namespace; exits with one error line without credentials."""
    from webhook.kube.client import KubeError, command_client
    from webhook.kube.resources import Resources

    try:
        client, namespace = command_client(str(args.kubeconfig) if args.kubeconfig else None)
    except KubeError as exc:
        raise SystemExit(f"error: cannot reach the Kubernetes API: {exc.message}") from exc
    return Resources(client), namespace


def current_templates(args: argparse.Namespace, resources: Resources) -> TemplateSet:
    """The templates from --templates folders, else from the API as the server reads them."""
    if args.templates:
        from webhook.cli.inject import load_template_set

        return load_template_set(args.templates, args.kubernetes_version, options.security_policy(args))
    from webhook.kube.client import KubeError
    from webhook.lifecycle.cluster import TemplateScope, cluster_templates

    scope = TemplateScope(
        args.injector_namespace,
        None if args.watch_all_namespaces else tuple(args.watch_namespace),
        frozenset(args.shared_template_namespace),
    )
    try:
        templates = cluster_templates(
            resources,
            scope,
            kubernetes_version=args.kubernetes_version,
            security=options.security_policy(args),
        )
    except KubeError as exc:
        raise SystemExit(f"error: cannot read the templates: {exc}") from exc
    if not len(templates):
        print(f"warning: no templates in namespace {args.injector_namespace!r}", file=sys.stderr)
    return templates
