"""``export mutating-admission-policy``: templates as MutatingAdmissionPolicies (webhook.convert.export)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from webhook.cli import options
from webhook.core.model import INJECTION_MODES
from webhook.settings import DEFAULTS

# Written here so that --help does not load the exporter; a test keeps them equal to its own.
KUBERNETES_VERSIONS = ("1.36", "1.37")


def register(commands: Any) -> None:
    export = options.command_group(commands, "export", "print templates in another form")
    policy = options.command(
        export,
        "mutating-admission-policy",
        "print each template as a MutatingAdmissionPolicy and its binding (Kubernetes 1.36+)",
        "Print each template as a MutatingAdmissionPolicy and a MutatingAdmissionPolicyBinding "
        "(admissionregistration.k8s.io/v1) that inject it from the API server itself; on stderr, "
        "each template refused and what each exported one does not do that the webhook does.",
    )
    policy.add_argument(
        "--templates", type=Path, required=True, metavar="DIR", help="folder of template ConfigMap manifests"
    )
    policy.add_argument(
        "--kubernetes-version",
        choices=KUBERNETES_VERSIONS,
        default=KUBERNETES_VERSIONS[0],
        help="the cluster's version: templates and policies are validated against its schemas",
    )
    policy.add_argument(
        "--no-legacy-annotations",
        action="store_true",
        help="ignore initializer.kubernetes.io/<name> annotations",
    )
    policy.add_argument(
        "--no-namespace-opt-in",
        action="store_true",
        help="ignore the sidecar-injector.io/inject label and annotation on namespaces",
    )
    policy.add_argument(
        "--injection-mode",
        choices=INJECTION_MODES,
        default=DEFAULTS.policy.injection_mode,
        help="as serve's: for templates without an injection field, inject workloads' pod templates, "
        "or Pods only (a workload that opted in on its own metadata then gets the opt-in copied)",
    )
    policy.set_defaults(run=export_policies)


def export_policies(args: argparse.Namespace) -> int:
    import kubernetes_validate

    from webhook.cli.templates import read_templates
    from webhook.convert.export import export_policies
    from webhook.convert.export_output import messages, render
    from webhook.core import InjectionPolicy
    from webhook.core.security import TemplateSecurityPolicy
    from webhook.templates import TemplateError

    results, problem = read_templates(args.templates, args.kubernetes_version, TemplateSecurityPolicy())
    if problem is not None:
        print(f"error: {args.templates}: {problem}", file=sys.stderr)
        return 1
    for result in results.values():
        if isinstance(result, TemplateError):
            for line in result.lines():
                print(f"refused: {line}", file=sys.stderr)
    templates = [r for r in results.values() if not isinstance(r, TemplateError)]
    policy = InjectionPolicy(
        legacy_annotations=not args.no_legacy_annotations,
        namespace_opt_in=not args.no_namespace_opt_in,
        injection_mode=args.injection_mode,
    )
    exported = export_policies(templates, policy)
    for template in exported.exported:
        for obj in template.objects:  # a defect of the exporter, never of the user's templates
            kubernetes_validate.validate(obj, args.kubernetes_version, strict=True)
    if exported.exported:
        sys.stdout.write(render(exported))
    for line in messages(exported):
        print(line, file=sys.stderr)
    return 0 if exported.exported else 1
