"""``serve``: the admission webhook's options, the Settings they make, and the start of the runtime.

Option defaults are Settings' own (``DEFAULTS``), except ``--host`` and ``--drain-seconds``, which
depend on whether the run is a local trial (see ``settings_from_args``). The environment gives the
Pod's namespace and name (``POD_NAMESPACE``, ``POD_NAME``: the downward API), read here only.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from webhook.cli import arguments, cluster, options
from webhook.core.levels import PodSecurityLevel
from webhook.settings import DEFAULTS, SERVICE_ACCOUNT_NAMESPACE, Settings
from webhook.signals import ignore_stray_signals

# A local trial listens on loopback only (its certificate is self-signed and its templates are
# examples) and stops at once on Ctrl-C: there are no endpoints to take it out of.
LOCAL_TRIAL_HOST = "127.0.0.1"
LOCAL_TRIAL_DRAIN_SECONDS = 0.0


def register(commands: Any) -> None:
    serve = options.command(commands, "serve", "run the admission webhook (HTTPS)")
    _add_template_sources(serve)
    _add_certificates(serve)
    _add_ports(serve)
    options.add_policy_flags(serve)
    _add_limits(serve)
    _add_process(serve)
    cluster.add_server_flags(serve)
    _add_events(serve)
    serve.set_defaults(run=run, check=check, command_parser=serve)


def _add_template_sources(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--templates",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="folder of template ConfigMap manifests, watched for changes (repeatable; default: the "
        "bundled examples, when neither --templates nor --kube is given)",
    )
    serve.add_argument("--kube", action="store_true", help="read template ConfigMaps from the Kubernetes API")
    serve.add_argument(
        "--namespace",
        type=arguments.dns_label,
        default=None,
        metavar="NS",
        help="the injector's own namespace, whose templates serve every namespace "
        f"(default: $POD_NAMESPACE, else the service account's namespace, else {DEFAULTS.namespace!r})",
    )
    serve.add_argument(
        "--watch-namespace",
        action="append",
        type=arguments.dns_label,
        default=[],
        metavar="NS",
        help="also read templates from this namespace; they serve workloads in it only (repeatable)",
    )
    serve.add_argument(
        "--watch-all-namespaces",
        action="store_true",
        help="read templates from every namespace; each serves workloads in its own namespace only",
    )
    serve.add_argument(
        "--shared-template-namespace",
        action="append",
        type=arguments.dns_label,
        default=[],
        metavar="NS",
        help="templates from this namespace may be used by workloads in every namespace (repeatable)",
    )
    serve.add_argument(
        "--kubeconfig",
        type=Path,
        metavar="FILE",
        help="use this kubeconfig (default: the pod's in-cluster credentials)",
    )


def _add_certificates(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--cert",
        type=Path,
        metavar="FILE",
        help="serving certificate (PEM), reloaded when it changes (default: a self-signed certificate "
        "generated at start, for trying it locally)",
    )
    serve.add_argument(
        "--key",
        type=Path,
        metavar="FILE",
        help="private key of --cert (PEM) (default: none; required with --cert)",
    )
    serve.add_argument(
        "--client-ca",
        type=Path,
        metavar="FILE",
        help="require client certificates signed by this CA (default: no client certificate asked for)",
    )


def _add_ports(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--host",
        type=arguments.non_empty,
        metavar="ADDR",
        help=f"address to listen on (default: {LOCAL_TRIAL_HOST} when serving the bundled examples with "
        f"a generated certificate, else {DEFAULTS.host}: all interfaces)",
    )
    serve.add_argument(
        "--port",
        type=arguments.port,
        default=DEFAULTS.port,
        help="HTTPS port of /mutate, /healthz, /readyz and /templates",
    )
    serve.add_argument(
        "--metrics-port",
        type=arguments.port_or_zero,
        default=DEFAULTS.metrics_port,
        help="plain-HTTP /metrics port; 0 disables it",
    )
    serve.add_argument(
        "--probe-port",
        type=arguments.port_or_zero,
        default=DEFAULTS.probe_port,
        metavar="PORT",
        help="plain-HTTP port serving only /healthz and /readyz, for kubelet probes when --client-ca "
        "is set; 0: probes only on the HTTPS port",
    )


def _add_limits(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--on-internal-error",
        choices=("deny", "allow"),
        default="allow" if DEFAULTS.allow_on_internal_error else "deny",
        help="answer to a review the injector fails on internally",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=arguments.integer(1),
        default=DEFAULTS.max_body_bytes,
        metavar="BYTES",
        help="largest review accepted; a larger one is refused with 413 (3 MiB, like kube-apiserver's limit)",
    )
    serve.add_argument(
        "--drain-seconds",
        type=arguments.seconds(0, inclusive=True),
        metavar="SECONDS",
        help="after SIGTERM or Ctrl-C: report unready and keep serving this long before stopping "
        f"(default: {DEFAULTS.drain_seconds:g}; {LOCAL_TRIAL_DRAIN_SECONDS:g} when serving the bundled "
        "examples with a generated certificate)",
    )
    serve.add_argument(
        "--max-inflight",
        type=arguments.integer(1),
        default=DEFAULTS.max_inflight,
        metavar="N",
        help="reviews in progress at once; beyond, an immediate 503",
    )
    serve.add_argument(
        "--max-buffered-bytes",
        type=arguments.integer(1),
        default=DEFAULTS.max_buffered_bytes,
        metavar="BYTES",
        help="request bodies being read at once, all connections together; beyond, 503 "
        "(at least --max-body-bytes)",
    )
    _add_connection_limits(serve)


def _add_connection_limits(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--request-timeout",
        type=arguments.seconds(0, inclusive=False),
        default=DEFAULTS.request_timeout,
        metavar="SECONDS",
        help="a started request must arrive whole within this many seconds",
    )
    serve.add_argument(
        "--idle-timeout",
        type=arguments.seconds(0, inclusive=False),
        default=DEFAULTS.idle_timeout,
        metavar="SECONDS",
        help="close connections idle this long (keep above the client's own, 90 s for Go)",
    )
    serve.add_argument(
        "--max-connections",
        type=arguments.integer(1),
        default=DEFAULTS.max_connections,
        metavar="N",
        help="connections open at once per process, TLS handshakes included; beyond, new ones wait "
        "and idle or stalled ones are closed to make room",
    )


def _add_process(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=DEFAULTS.log_format,
        help="text for people, json for log collectors",
    )
    serve.add_argument(
        "--log-level",
        type=arguments.log_level,
        default=DEFAULTS.log_level,
        metavar="LEVEL",
        help=f"least severe messages logged: one of {', '.join(arguments.LOG_LEVELS)}",
    )
    serve.add_argument(
        "--workers",
        type=arguments.integer(1),
        default=DEFAULTS.workers,
        metavar="N",
        help="worker processes sharing the port (more than 1 needs --cert and --key)",
    )


def _add_events(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--no-events",
        action="store_true",
        help="record no Kubernetes Events (by default, with --kube: Injected, Skipped, Denied and "
        "Warning on opted-in objects or their owners, TemplateRejected/TemplateRecovered on template "
        "ConfigMaps; reportingInstance is $POD_NAME, else the host name)",
    )
    serve.add_argument(
        "--events-queue-size",
        type=arguments.integer(1, 1_000_000),
        default=DEFAULTS.events_queue_size,
        metavar="N",
        help="reviews' Events waiting for the API at most; beyond, they are dropped and counted",
    )


def check(args: argparse.Namespace) -> str | None:
    """What no single option's type can see: options that must agree with each other."""
    if (args.cert is None) != (args.key is None):
        return "--cert and --key go together"
    if args.workers > 1 and args.cert is None:
        return "--workers needs --cert and --key (above 1 worker), so that all serve the same certificate"
    if args.metrics_port == args.port:
        return f"--metrics-port must differ from --port ({args.port})"
    if args.probe_port and args.probe_port in (args.port, args.metrics_port):
        return f"--probe-port must differ from --port ({args.port}) and --metrics-port ({args.metrics_port})"
    if (args.watch_pods or args.rollout_updater) and not args.kube:
        return "--watch-pods and --rollout-updater read the cluster: they need --kube"
    if args.max_buffered_bytes < args.max_body_bytes:
        return (
            "--max-buffered-bytes must be at least --max-body-bytes, or no review of that size could be read"
        )
    return None


def is_local_trial(args: argparse.Namespace) -> bool:
    """``serve`` with no template source and no certificate: the bundled examples, for a first try."""
    return not args.templates and not args.kube and args.cert is None


def settings_from_args(args: argparse.Namespace) -> Settings:
    local = is_local_trial(args)
    default_host = LOCAL_TRIAL_HOST if local else DEFAULTS.host
    default_drain = LOCAL_TRIAL_DRAIN_SECONDS if local else DEFAULTS.drain_seconds
    return Settings(
        template_dirs=tuple(args.templates),
        kube=args.kube,
        namespace=_own_namespace(args.namespace),
        watch_namespaces=tuple(args.watch_namespace),
        watch_all_namespaces=args.watch_all_namespaces,
        shared_template_namespaces=tuple(args.shared_template_namespace),
        kubeconfig=args.kubeconfig,
        cert_file=args.cert,
        key_file=args.key,
        client_ca_file=args.client_ca,
        host=args.host if args.host is not None else default_host,
        port=args.port,
        metrics_port=args.metrics_port,
        policy=options.injection_policy(args),
        template_security=options.security_policy(args),
        allow_on_internal_error=args.on_internal_error == "allow",
        max_body_bytes=args.max_body_bytes,
        drain_seconds=args.drain_seconds if args.drain_seconds is not None else default_drain,
        request_timeout=args.request_timeout,
        max_inflight=args.max_inflight,
        max_buffered_bytes=args.max_buffered_bytes,
        idle_timeout=args.idle_timeout,
        max_connections=args.max_connections,
        probe_port=args.probe_port,
        kubernetes_version=args.kubernetes_version,
        log_format=args.log_format,
        log_level=args.log_level,
        workers=args.workers,
        events=not args.no_events,
        events_queue_size=args.events_queue_size,
        events_instance=os.environ.get("POD_NAME", ""),
        pod_security_default_level=PodSecurityLevel(args.pod_security_default_level),
        **cluster.server_settings(args),  # type: ignore[arg-type]  # each field's type is checked by its flag
    )


def _own_namespace(flag: str | None) -> str:
    if flag:
        return flag
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or DEFAULTS.namespace
    except OSError:
        return DEFAULTS.namespace


def run(args: argparse.Namespace) -> int:
    ignore_stray_signals()  # before the slow imports below
    from webhook.runtime import serve

    for folder in args.templates:
        if not folder.is_dir():
            print(
                f"error: --templates {folder}: {'not a folder' if folder.exists() else 'no such folder'}",
                file=sys.stderr,
            )
            return 1
    return serve(settings_from_args(args))
