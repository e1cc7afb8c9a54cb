"""sidecar-injector: serve the webhook, preview an injection, issue certificates, check templates."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from webhook import __version__, arguments, commands
from webhook.core.model import POD_SECURITY_CHECKS
from webhook.core.security import LEVELS
from webhook.server.review import DEFAULT_MAX_BODY_BYTES
from webhook.settings import SERVICE_ACCOUNT_NAMESPACE, Settings, ignore_stray_signals
from webhook.templates.schema import DEFAULT_KUBERNETES_VERSION


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    problem = args.check(args) if hasattr(args, "check") else None
    if problem is not None:
        args.command_parser.error(problem)
    result: int = args.run(args)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sidecar-injector", description=__doc__, formatter_class=arguments.HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subcommands = parser.add_subparsers(title="commands")

    serve = arguments.command(subcommands, "serve", "run the admission webhook (HTTPS)")
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
        "(default: $POD_NAMESPACE, else the service account's namespace, else 'default')",
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
    serve.add_argument(
        "--host",
        type=arguments.non_empty,
        metavar="ADDR",
        help="address to listen on (default: 127.0.0.1 when serving the bundled examples with a "
        "generated certificate, else 0.0.0.0: all interfaces)",
    )
    serve.add_argument(
        "--port",
        type=arguments.port,
        default=8443,
        help="HTTPS port of /mutate, /healthz, /readyz and /templates",
    )
    serve.add_argument(
        "--metrics-port",
        type=arguments.port_or_zero,
        default=9090,
        help="plain-HTTP /metrics port; 0 disables it",
    )
    serve.add_argument(
        "--probe-port",
        type=arguments.port_or_zero,
        default=0,
        metavar="PORT",
        help="plain-HTTP port serving only /healthz and /readyz, for kubelet probes when --client-ca "
        "is set; 0: probes only on the HTTPS port",
    )
    _add_policy_flags(serve)
    serve.add_argument(
        "--on-internal-error",
        choices=("deny", "allow"),
        default="deny",
        help="answer to a review the injector fails on internally",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=arguments.integer(1),
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="BYTES",
        help="largest review accepted; a larger one is refused with 413 (3 MiB, like kube-apiserver's limit)",
    )
    serve.add_argument(
        "--drain-seconds",
        type=arguments.seconds(0, inclusive=True),
        metavar="SECONDS",
        help="after SIGTERM or Ctrl-C: report unready and keep serving this long before stopping "
        "(default: 5; 0 when serving the bundled examples with a generated certificate)",
    )
    serve.add_argument(
        "--max-inflight",
        type=arguments.integer(1),
        default=256,
        metavar="N",
        help="reviews in progress at once; beyond, an immediate 503",
    )
    serve.add_argument(
        "--max-buffered-bytes",
        type=arguments.integer(1),
        default=4 * DEFAULT_MAX_BODY_BYTES,
        metavar="BYTES",
        help="request bodies being read at once, all connections together; beyond, 503 "
        "(at least --max-body-bytes)",
    )
    serve.add_argument(
        "--request-timeout",
        type=arguments.seconds(0, inclusive=False),
        default=10.0,
        metavar="SECONDS",
        help="a started request must arrive whole within this many seconds",
    )
    serve.add_argument(
        "--idle-timeout",
        type=arguments.seconds(0, inclusive=False),
        default=120.0,
        metavar="SECONDS",
        help="close connections idle this long (keep above the client's own, 90 s for Go)",
    )
    serve.add_argument(
        "--max-connections",
        type=arguments.integer(1),
        default=1024,
        metavar="N",
        help="connections open at once per process, TLS handshakes included; beyond, new ones wait "
        "and idle or stalled ones are closed to make room",
    )
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="text for people, json for log collectors",
    )
    serve.add_argument(
        "--log-level",
        type=arguments.log_level,
        default="INFO",
        metavar="LEVEL",
        help=f"least severe messages logged: one of {', '.join(arguments.LOG_LEVELS)}",
    )
    serve.add_argument(
        "--workers",
        type=arguments.integer(1),
        default=1,
        metavar="N",
        help="worker processes sharing the port (more than 1 needs --cert and --key)",
    )
    serve.set_defaults(run=_serve, check=_check_serve, command_parser=serve)

    inject = arguments.command(
        subcommands,
        "inject",
        "print manifests with the templates injected (offline)",
        "Print the manifests with the templates injected, as the webhook would inject them on CREATE.",
    )
    inject.add_argument(
        "--templates",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        required=True,
        help="folder of template ConfigMap manifests (repeatable)",
    )
    inject.add_argument(
        "-f", "--filename", required=True, metavar="FILE", help="manifest file, or - for standard input"
    )
    inject.add_argument(
        "--namespace",
        type=arguments.dns_label,
        default="default",
        metavar="NS",
        help="namespace of objects that name none",
    )
    inject.add_argument(
        "--patch", action="store_true", help="print the JSON patches instead of the mutated manifests"
    )
    _add_policy_flags(inject)
    inject.set_defaults(run=commands.inject)

    certs = arguments.command_group(subcommands, "certs", "certificate tooling")
    generate = arguments.command(certs, "generate", "write a CA and a serving certificate for the Service")
    generate.add_argument(
        "--service",
        type=arguments.dns_label,
        required=True,
        metavar="NAME",
        help="name of the injector's Service",
    )
    generate.add_argument(
        "--namespace", type=arguments.dns_label, required=True, metavar="NS", help="namespace of that Service"
    )
    generate.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder for ca.crt, tls.crt and tls.key (created if missing; the key is private: keep it "
        "out of version control)",
    )
    generate.add_argument(
        "--days",
        type=arguments.integer(1, 3650),
        default=365,
        metavar="N",
        help="days the serving certificate is valid, 1 to 3650 (the CA: ten times as long)",
    )
    generate.add_argument(
        "--extra-name",
        action="append",
        type=arguments.dns_name_or_ip,
        default=[],
        metavar="NAME",
        help="an additional DNS name or IP address for the certificate (repeatable)",
    )
    generate.set_defaults(run=commands.certs_generate)

    templates = arguments.command_group(subcommands, "templates", "template tooling")
    validate = arguments.command(templates, "validate", "check template ConfigMaps; non-zero exit on errors")
    validate.add_argument(
        "folders",
        nargs="+",
        type=Path,
        metavar="DIR",
        help="folders of template ConfigMap manifests to check (one or more)",
    )
    _add_template_flags(validate)
    validate.set_defaults(run=commands.templates_validate)
    return parser


def _add_policy_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--missing-template",
        choices=("allow", "deny"),
        default="allow",
        help="a requested template that does not exist: admit with a warning, or deny",
    )
    parser.add_argument(
        "--no-legacy-annotations",
        action="store_true",
        help="ignore initializer.kubernetes.io/<name> annotations",
    )
    parser.add_argument(
        "--pod-security-check",
        choices=POD_SECURITY_CHECKS,
        default="warn",
        help="an injected template needs a lower Pod Security level than the namespace enforces: "
        "admit with a warning, deny, or do not check (with --kube, namespace labels are watched)",
    )
    parser.add_argument(
        "--pod-security-default-level",
        choices=LEVELS,
        default="privileged",
        help="the level enforced on namespaces without a pod-security.kubernetes.io/enforce label "
        "(your cluster's Pod Security admission default)",
    )
    _add_template_flags(parser)


def _add_template_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubernetes-version",
        type=arguments.kubernetes_version,
        default=DEFAULT_KUBERNETES_VERSION,
        metavar="MAJOR.MINOR",
        help="validate templates against this Kubernetes version's schema",
    )
    security = parser.add_argument_group("template security policy (checked when templates load)")
    security.add_argument(
        "--forbid-privileged", action="store_true", help="refuse templates with privileged containers"
    )
    security.add_argument(
        "--forbid-host-ports", action="store_true", help="refuse templates that use host ports"
    )
    security.add_argument(
        "--forbid-host-path", action="store_true", help="refuse templates with hostPath volumes"
    )
    security.add_argument(
        "--forbid-added-capabilities",
        action="store_true",
        help="refuse templates that add Linux capabilities",
    )
    security.add_argument(
        "--allowed-registry",
        action="append",
        type=arguments.non_empty,
        default=[],
        metavar="PREFIX",
        help="images must start with PREFIX/ (repeatable; default: any registry)",
    )
    security.add_argument(
        "--max-template-level",
        choices=LEVELS,
        default="privileged",
        help="reject templates that need a more permissive Pod Security level",
    )


def _own_namespace(flag: str | None) -> str:
    if flag:
        return flag
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or "default"
    except OSError:
        return "default"


def _check_serve(args: argparse.Namespace) -> str | None:
    """What no single option's type can see: options that must agree with each other."""
    if (args.cert is None) != (args.key is None):
        return "--cert and --key go together"
    if args.workers > 1 and args.cert is None:
        return "--workers needs --cert and --key (above 1 worker), so that all serve the same certificate"
    if args.metrics_port == args.port:
        return f"--metrics-port must differ from --port ({args.port})"
    if args.probe_port and args.probe_port in (args.port, args.metrics_port):
        return f"--probe-port must differ from --port ({args.port}) and --metrics-port ({args.metrics_port})"
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
    # A local trial listens on loopback only (its certificate is self-signed and its templates are
    # examples) and stops at once on Ctrl-C: there are no endpoints to take it out of.
    default_host, default_drain = ("127.0.0.1", 0.0) if local else ("0.0.0.0", 5.0)
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
        policy=commands.injection_policy(args),
        template_security=commands.security_policy(args),
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
        pod_security_default_level=args.pod_security_default_level,
    )


def _serve(args: argparse.Namespace) -> int:
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
