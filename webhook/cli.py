"""``sidecar-injector``: serve the webhook, preview an injection, issue certificates, check templates."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from webhook import __version__
from webhook.core import InjectionPolicy, TemplateSet
from webhook.core.model import POD_SECURITY_CHECKS
from webhook.core.security import LEVELS, TemplateSecurityPolicy
from webhook.server.review import DEFAULT_MAX_BODY_BYTES
from webhook.settings import SERVICE_ACCOUNT_NAMESPACE, Settings, ignore_stray_signals
from webhook.templates import TemplateError
from webhook.templates.file_source import load_templates
from webhook.templates.schema import DEFAULT_KUBERNETES_VERSION


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    result: int = args.run(args)
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sidecar-injector", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands")

    serve = commands.add_parser("serve", help="run the admission webhook (HTTPS)")
    serve.add_argument(
        "--templates",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="folder of template ConfigMap manifests, watched for changes (repeatable); "
        "with no --templates and no --kube the bundled examples are served",
    )
    serve.add_argument("--kube", action="store_true", help="read template ConfigMaps from the Kubernetes API")
    serve.add_argument(
        "--namespace",
        default=None,
        help="the injector's own namespace (default: $POD_NAMESPACE or the service account's)",
    )
    serve.add_argument(
        "--watch-namespace",
        action="append",
        default=[],
        metavar="NS",
        help="also read templates from this namespace (repeatable)",
    )
    serve.add_argument("--watch-all-namespaces", action="store_true")
    serve.add_argument(
        "--shared-template-namespace",
        action="append",
        default=[],
        metavar="NS",
        help="templates from this namespace may be used by workloads in every namespace",
    )
    serve.add_argument(
        "--kubeconfig", type=Path, help="use this kubeconfig instead of in-cluster credentials"
    )
    serve.add_argument("--cert", type=Path, help="serving certificate (PEM); reloaded when it changes")
    serve.add_argument("--key", type=Path, help="private key of --cert (PEM)")
    serve.add_argument("--client-ca", type=Path, help="require client certificates signed by this CA")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8443)
    serve.add_argument("--metrics-port", type=int, default=9090, help="plain-HTTP /metrics port; 0 disables")
    serve.add_argument(
        "--probe-port",
        type=int,
        default=0,
        help="plain-HTTP port serving only /healthz and /readyz, for kubelet probes when --client-ca "
        "is set (default: 0, probes only on the HTTPS port)",
    )
    _add_policy_flags(serve)
    serve.add_argument(
        "--on-internal-error",
        choices=("deny", "allow"),
        default="deny",
        help="answer to a review the injector fails on internally",
    )
    serve.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    serve.add_argument(
        "--drain-seconds",
        type=float,
        default=5.0,
        help="after SIGTERM: report unready and keep serving this long before stopping",
    )
    serve.add_argument(
        "--max-inflight", type=int, default=256, help="reviews in progress at once; beyond, an immediate 503"
    )
    serve.add_argument(
        "--max-buffered-bytes",
        type=int,
        default=4 * DEFAULT_MAX_BODY_BYTES,
        help="request bodies being read at once, all connections together; beyond, 503",
    )
    serve.add_argument(
        "--request-timeout",
        type=float,
        default=10.0,
        help="a started request must arrive whole within this many seconds",
    )
    serve.add_argument(
        "--idle-timeout",
        type=float,
        default=120.0,
        help="close connections idle this long (keep above the client's own, 90 s for Go)",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        default=1024,
        help="connections open at once per process, TLS handshakes included; beyond, new ones wait "
        "and idle or stalled ones are closed to make room (default: 1024)",
    )
    serve.add_argument("--log-format", choices=("text", "json"), default="text")
    serve.add_argument("--log-level", default="INFO")
    serve.add_argument("--workers", type=int, default=1, help="worker processes sharing the port")
    serve.set_defaults(run=_serve)

    inject = commands.add_parser("inject", help="print manifests with the templates injected (offline)")
    inject.add_argument("--templates", action="append", type=Path, default=[], metavar="DIR", required=True)
    inject.add_argument("-f", "--filename", required=True, help="manifest file, or - for standard input")
    inject.add_argument("--namespace", default="default", help="namespace of objects that name none")
    inject.add_argument("--patch", action="store_true", help="print the JSON patches instead")
    _add_policy_flags(inject)
    inject.set_defaults(run=_inject)

    certs = commands.add_parser("certs", help="certificate tooling").add_subparsers(title="certs commands")
    generate = certs.add_parser("generate", help="write a CA and a serving certificate for the Service")
    generate.add_argument("--service", required=True)
    generate.add_argument("--namespace", required=True)
    generate.add_argument("--out", type=Path, required=True)
    generate.add_argument("--days", type=int, default=365)
    generate.add_argument(
        "--extra-name",
        action="append",
        default=[],
        metavar="NAME",
        help="an additional DNS name or IP address for the certificate (repeatable)",
    )
    generate.set_defaults(run=_certs_generate)

    templates = commands.add_parser("templates", help="template tooling").add_subparsers(title="templates")
    validate = templates.add_parser("validate", help="check template ConfigMaps; non-zero exit on errors")
    validate.add_argument("folders", nargs="+", type=Path)
    _add_template_flags(validate)
    validate.set_defaults(run=_templates_validate)
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
        default=DEFAULT_KUBERNETES_VERSION,
        help="validate templates against this Kubernetes version's schema",
    )
    security = parser.add_argument_group("template security policy (checked when templates load)")
    security.add_argument("--forbid-privileged", action="store_true")
    security.add_argument("--forbid-host-ports", action="store_true")
    security.add_argument("--forbid-host-path", action="store_true")
    security.add_argument("--forbid-added-capabilities", action="store_true")
    security.add_argument(
        "--allowed-registry",
        action="append",
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


def _security(args: argparse.Namespace) -> TemplateSecurityPolicy:
    return TemplateSecurityPolicy(
        allow_privileged=not args.forbid_privileged,
        allow_host_ports=not args.forbid_host_ports,
        allow_host_path=not args.forbid_host_path,
        allow_added_capabilities=not args.forbid_added_capabilities,
        allowed_registries=tuple(args.allowed_registry),
        maximum_level=args.max_template_level,
    )


def _policy(args: argparse.Namespace) -> InjectionPolicy:
    return InjectionPolicy(
        legacy_annotations=not args.no_legacy_annotations,
        deny_missing_templates=args.missing_template == "deny",
        pod_security_check=args.pod_security_check,
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


def settings_from_args(args: argparse.Namespace) -> Settings:
    if (args.cert is None) != (args.key is None):
        raise SystemExit("sidecar-injector: --cert and --key go together")
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
        host=args.host,
        port=args.port,
        metrics_port=args.metrics_port,
        policy=_policy(args),
        template_security=_security(args),
        allow_on_internal_error=args.on_internal_error == "allow",
        max_body_bytes=args.max_body_bytes,
        drain_seconds=args.drain_seconds,
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

    return serve(settings_from_args(args))


def _load_template_set(
    folders: Sequence[Path], version: str, security: TemplateSecurityPolicy
) -> tuple[TemplateSet, list[TemplateError]]:
    from webhook.templates.store import TemplateStore

    store = TemplateStore()
    errors: list[TemplateError] = []
    for folder in folders:
        results = {f"{folder}#{i}": r for i, r in enumerate(load_templates(folder, version, security))}
        errors.extend(r for r in results.values() if isinstance(r, TemplateError))
        store.replace_source(f"folder:{folder}", results)
    return store.snapshot(), errors


def _inject(args: argparse.Namespace) -> int:
    import orjson

    from webhook.core import InjectionError
    from webhook.offline import ManifestError, dump_documents, inject_documents

    templates, errors = _load_template_set(args.templates, args.kubernetes_version, _security(args))
    for error in errors:
        print(f"warning: template not loaded: {error}", file=sys.stderr)
    try:
        text = sys.stdin.read() if args.filename == "-" else Path(args.filename).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {args.filename}: {exc}", file=sys.stderr)
        return 1
    try:
        documents, injected = inject_documents(
            text, templates, _policy(args), args.namespace, args.pod_security_default_level
        )
    except InjectionError as exc:
        print(f"error: {exc.message} ({exc.reason})", file=sys.stderr)
        return 1
    except ManifestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for item in injected:
        meta = item.original.get("metadata") or {}
        for warning in item.warnings:
            print(f"warning: {item.original.get('kind')} {meta.get('name')}: {warning}", file=sys.stderr)
    if args.patch:
        patches = [list(item.patch) for item in injected]
        sys.stdout.write(orjson.dumps(patches, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(dump_documents(documents))
    return 0


def _certs_generate(args: argparse.Namespace) -> int:
    import ipaddress
    from datetime import UTC, datetime

    from webhook.tls.files import write_bundle
    from webhook.tls.issuing import issue_bundle

    ips, dns = [], []
    for name in args.extra_name:
        try:
            ips.append(str(ipaddress.ip_address(name)))
        except ValueError:
            dns.append(name)
    bundle = issue_bundle(
        args.service,
        args.namespace,
        now=datetime.now(UTC),
        days=args.days,
        extra_dns_names=dns,
        ip_addresses=ips,
    )
    write_bundle(bundle, args.out)
    print(f"wrote {args.out / 'ca.crt'}, {args.out / 'tls.crt'}, {args.out / 'tls.key'}", file=sys.stderr)
    print("caBundle for the MutatingWebhookConfiguration:", file=sys.stderr)
    print(bundle.ca_bundle_base64())
    return 0


def _templates_validate(args: argparse.Namespace) -> int:
    failed = 0
    for folder in args.folders:
        try:
            results = load_templates(folder, args.kubernetes_version, _security(args))
        except TemplateError as exc:
            print(f"error: {exc}")
            failed += 1
            continue
        for result in results:
            if isinstance(result, TemplateError):
                print(f"error: {result}")
                failed += 1
            else:
                print(f"ok: template {result.name!r} (revision {result.revision}) from {result.source}")
    return 1 if failed else 0
