"""``uninject``: print manifests without what the injector added (offline), the inverse of ``inject``.

Every outcome a user can cause is a line on stderr ("error: …" and exit 1, or "warning: …"), never
a traceback. An object whose status does not say what a template added (written by an injector
before the status recorded it) keeps that template, with a warning, unless ``--templates`` serves
the same revision: then what it added is inferred, also with a warning.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from webhook.cli import options
from webhook.core import InjectionPolicy, TemplateSet


def register(commands: Any) -> None:
    uninject = options.command(
        commands,
        "uninject",
        "print manifests without what the injector added (offline)",
        "Print the manifests without the containers, volumes, env, mounts, annotations and labels the "
        "injector added, as their status annotation records them, and without that annotation.",
    )
    uninject.add_argument(
        "-f", "--filename", required=True, metavar="FILE", help="manifest file, or - for standard input"
    )
    uninject.add_argument(
        "--templates",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="folder of template ConfigMap manifests (repeatable), to undo an old status that only "
        "names templates and revisions, when the same revision is served (default: none)",
    )
    options.add_template_flags(uninject)
    uninject.set_defaults(run=uninject_manifests)


def uninject_manifests(args: argparse.Namespace) -> int:
    from webhook.cli.inject import load_template_set
    from webhook.manifests import ManifestError
    from webhook.offline import dump_documents, uninject_documents

    templates: TemplateSet | None = None
    if args.templates:
        templates = load_template_set(args.templates, args.kubernetes_version, options.security_policy(args))
    source = "standard input" if args.filename == "-" else args.filename
    try:
        text = sys.stdin.read() if args.filename == "-" else Path(args.filename).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {source}: {exc}", file=sys.stderr)
        return 1
    try:
        documents, results = uninject_documents(text, InjectionPolicy(), templates)
    except ManifestError as exc:
        print(f"error: {source}: {exc}", file=sys.stderr)
        return 1
    for obj, result in results:
        meta = obj.get("metadata") or {}
        what = f"{obj.get('kind')} {meta.get('name')}"
        for warning in result.warnings:
            print(f"warning: {what}: {warning}; left unchanged", file=sys.stderr)
        for name in result.unknown:
            print(
                f"warning: {what}: the status does not record what template {name!r} added and its "
                "revision is not served (--templates); left in place",
                file=sys.stderr,
            )
        for name in result.inferred:
            print(
                f"warning: {what}: template {name!r} removed as the served template of the same revision "
                "adds it (its status did not record what it added)",
                file=sys.stderr,
            )
    sys.stdout.write(dump_documents(documents))
    return 0
