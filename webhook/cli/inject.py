"""``inject``: print manifests with the templates injected, as the webhook would on CREATE (offline).

Every outcome a user can cause is a line on stderr ("error: …" and exit 1, or "warning: …"), never
a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from webhook.cli import arguments, options
from webhook.cli.templates import NO_TEMPLATES, read_templates
from webhook.core import TemplateSet
from webhook.core.levels import PodSecurityLevel
from webhook.core.security import TemplateSecurityPolicy
from webhook.settings import DEFAULTS
from webhook.templates import TemplateError


def register(commands: Any) -> None:
    inject = options.command(
        commands,
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
        default=DEFAULTS.namespace,
        metavar="NS",
        help="namespace of objects that name none",
    )
    inject.add_argument(
        "--patch", action="store_true", help="print the JSON patches instead of the mutated manifests"
    )
    options.add_policy_flags(inject)
    inject.set_defaults(run=inject_manifests)


def load_template_set(folders: Sequence[Path], version: str, security: TemplateSecurityPolicy) -> TemplateSet:
    """For ``inject``: every folder's templates in one set; each broken template is one warning.

    Built without a TemplateStore: the store logs what it rejects, and this prints it too. Two
    documents serving one name are a warning that names both and the one served.
    """
    from webhook.core import Template
    from webhook.templates.store import resolve_names

    loaded: list[tuple[str, str, Template]] = []
    for folder in folders:
        results, problem = read_templates(folder, version, security)
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


def inject_manifests(args: argparse.Namespace) -> int:
    import dataclasses

    import orjson

    from webhook.core import InjectionError
    from webhook.manifests import ManifestError
    from webhook.offline import dump_documents, inject_documents
    from webhook.templates.workload_checks import workload_readers

    templates = load_template_set(args.templates, args.kubernetes_version, options.security_policy(args))
    source = "standard input" if args.filename == "-" else args.filename
    try:
        text = sys.stdin.read() if args.filename == "-" else Path(args.filename).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {source}: {exc}", file=sys.stderr)
        return 1
    try:
        documents, injected = inject_documents(
            text,
            templates,
            dataclasses.replace(
                options.injection_policy(args), readers=workload_readers(args.kubernetes_version)
            ),
            args.namespace,
            PodSecurityLevel(args.pod_security_default_level),
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
