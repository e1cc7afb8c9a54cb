"""What ``inject``, ``certs generate`` and ``templates validate`` do, once cli has parsed their options.

Every outcome a user can cause is a line on stderr ("error: …" and exit 1, or "warning: …"), never
a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from webhook.core import InjectionPolicy, TemplateSet
from webhook.core.security import TemplateSecurityPolicy
from webhook.templates import TemplateError
from webhook.templates.file_source import load_folder
from webhook.templates.parsing import LEGACY_KEY, LEGACY_SUFFIX, NATIVE_KEY, TEMPLATE_LABEL

if TYPE_CHECKING:
    from webhook.templates.store import DocumentResult


def security_policy(args: argparse.Namespace) -> TemplateSecurityPolicy:
    return TemplateSecurityPolicy(
        allow_privileged=not args.forbid_privileged,
        allow_host_ports=not args.forbid_host_ports,
        allow_host_path=not args.forbid_host_path,
        allow_added_capabilities=not args.forbid_added_capabilities,
        allowed_registries=tuple(args.allowed_registry),
        maximum_level=args.max_template_level,
    )


def injection_policy(args: argparse.Namespace) -> InjectionPolicy:
    return InjectionPolicy(
        legacy_annotations=not args.no_legacy_annotations,
        deny_missing_templates=args.missing_template == "deny",
        pod_security_check=args.pod_security_check,
    )


NO_TEMPLATES = (
    f"no templates found (a template is a ConfigMap labelled {TEMPLATE_LABEL} with the key "
    f"{NATIVE_KEY!r}, or a ConfigMap named <name>{LEGACY_SUFFIX} with the key {LEGACY_KEY!r})"
)


def _read_templates(
    folder: Path, version: str, security: TemplateSecurityPolicy
) -> tuple[dict[str, DocumentResult], str | None]:
    """The templates (or their errors) of one folder by document, or why the folder cannot be read."""
    if not folder.exists():
        return {}, "no such folder"
    if not folder.is_dir():
        return {}, "not a folder"
    try:
        return load_folder(folder, version, security), None
    except (TemplateError, OSError) as exc:
        return {}, str(exc)


def _load_template_set(
    folders: Sequence[Path], version: str, security: TemplateSecurityPolicy
) -> TemplateSet:
    """For ``inject``: every folder's templates in one set; each broken template is one warning.

    Built without a TemplateStore: the store logs what it rejects, and this prints it too. Two
    documents serving one name are a warning that names both and the one served.
    """
    from webhook.core import Template
    from webhook.templates.store import resolve_names

    loaded: list[tuple[str, str, Template]] = []
    for folder in folders:
        results, problem = _read_templates(folder, version, security)
        if problem is not None:
            raise SystemExit(f"error: --templates {folder}: {problem}")
        if not results:
            print(f"warning: --templates {folder}: {NO_TEMPLATES}", file=sys.stderr)
        for document, result in results.items():
            if isinstance(result, TemplateError):
                print(f"warning: template not loaded: {result}", file=sys.stderr)
            else:
                loaded.append((f"folder:{folder}", document, result))
    templates, conflicts = resolve_names(loaded)
    for conflict in conflicts:
        print(f"warning: {conflict}", file=sys.stderr)
    return TemplateSet(templates)


def inject(args: argparse.Namespace) -> int:
    import orjson

    from webhook.core import InjectionError
    from webhook.manifests import ManifestError
    from webhook.offline import dump_documents, inject_documents

    templates = _load_template_set(args.templates, args.kubernetes_version, security_policy(args))
    source = "standard input" if args.filename == "-" else args.filename
    try:
        text = sys.stdin.read() if args.filename == "-" else Path(args.filename).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {source}: {exc}", file=sys.stderr)
        return 1
    try:
        documents, injected = inject_documents(
            text, templates, injection_policy(args), args.namespace, args.pod_security_default_level
        )
    except InjectionError as exc:
        print(f"error: {exc.message} ({exc.reason})", file=sys.stderr)
        return 1
    except ManifestError as exc:
        print(f"error: {source}: {exc}", file=sys.stderr)
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


def certs_generate(args: argparse.Namespace) -> int:
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
    try:
        write_bundle(bundle, args.out)
    except OSError as exc:
        print(f"error: cannot write the certificates into {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out / 'ca.crt'}, {args.out / 'tls.crt'}, {args.out / 'tls.key'}", file=sys.stderr)
    print("caBundle for the MutatingWebhookConfiguration:", file=sys.stderr)
    print(bundle.ca_bundle_base64())
    return 0


def templates_validate(args: argparse.Namespace) -> int:
    failed = 0
    for folder in args.folders:
        results, problem = _read_templates(folder, args.kubernetes_version, security_policy(args))
        if problem or not results:
            print(f"error: {folder}: {problem or NO_TEMPLATES}")
            failed += 1
        for result in results.values():
            if isinstance(result, TemplateError):
                for line in result.lines():  # one line per problem, each naming file, line and field
                    print(f"error: {line}")
                failed += 1
            else:
                print(f"ok: template {result.name!r} (revision {result.revision}) from {result.source}")
    return 1 if failed else 0
