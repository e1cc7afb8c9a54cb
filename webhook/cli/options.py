"""What several commands share: the help formatter, command and group parsers, and the option groups
of the injection policy and the template checks, with the values they build.

Every default shown here is read from ``webhook.settings.DEFAULTS``, never written a second time.
"""

from __future__ import annotations

import argparse
from typing import Any

from webhook.cli import arguments
from webhook.core import InjectionPolicy
from webhook.core.levels import LEVEL_NAMES, PodSecurityLevel
from webhook.core.model import INJECTION_MODES, POD_SECURITY_CHECKS, UPDATE_POLICIES
from webhook.core.security import TemplateSecurityPolicy
from webhook.settings import DEFAULTS


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, plus each option's default after its help.

    ArgumentDefaultsHelpFormatter would also print "(default: None)" and "(default: False)"; options
    whose default depends on other flags say so in their own help.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "%(default)" in text or "default:" in text or action.required:
            return text
        default = action.default
        # Identity, not equality: a default of 0 equals False but must still be shown.
        if default is None or default is False or default is argparse.SUPPRESS or default == []:
            return text
        return f"{text} (default: %(default)s)"


def command(commands: Any, name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        name, help=help, description=description or help, formatter_class=HelpFormatter
    )
    return parser


def command_group(commands: Any, name: str, help: str) -> Any:
    """A command that only holds commands (``certs``, ``templates``): alone, it prints its help."""
    parser = command(commands, name, help)
    parser.set_defaults(run=lambda _args: _print_help(parser))
    return parser.add_subparsers(title=f"{name} commands")


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def add_policy_flags(parser: argparse.ArgumentParser) -> None:
    """How injections are decided (``serve`` and ``inject``), and the template checks."""
    policy = DEFAULTS.policy
    parser.add_argument(
        "--missing-template",
        choices=("allow", "deny"),
        default="deny" if policy.deny_missing_templates else "allow",
        help="a requested template that does not exist: admit with a warning, or deny",
    )
    add_opt_in_flags(parser)
    parser.add_argument(
        "--accept-annotations",
        type=arguments.accepted_formats,
        default=(),
        metavar="FORMAT[,FORMAT]",
        help="also read these injectors' opt-in annotations on pods and pod templates as requests for "
        "the templates `import` made (tumblr injector.tumblr.com/request, expedia "
        "sidecar-injector.expedia.com/inject; salesforce=PATH: the triggers of the mutation config "
        "in PATH, its mutationconfig.yaml or the ConfigMap holding it, as `import` read it)",
    )
    parser.add_argument(
        "--pod-security-check",
        choices=POD_SECURITY_CHECKS,
        default=policy.pod_security_check,
        help="an injected template needs a lower Pod Security level than the namespace enforces: "
        "admit with a warning, deny, or do not check (with --kube, namespace labels are watched)",
    )
    parser.add_argument(
        "--pod-security-default-level",
        choices=LEVEL_NAMES,
        default=DEFAULTS.pod_security_default_level.value,
        help="the level enforced on namespaces without a pod-security.kubernetes.io/enforce label "
        "(your cluster's Pod Security admission default)",
    )
    add_mode_flags(parser)
    add_template_flags(parser)


def add_opt_in_flags(parser: argparse.ArgumentParser) -> None:
    """Which opt-in signals count (``serve``, ``inject``, and ``drift``/``rollout``, which must
    decide "opted in" as the server does)."""
    parser.add_argument(
        "--no-legacy-annotations",
        action="store_true",
        help="ignore initializer.kubernetes.io/<name> annotations",
    )
    parser.add_argument(
        "--no-namespace-opt-in",
        action="store_true",
        help="ignore the sidecar-injector.io/inject label and annotation on namespaces (with --kube and "
        "--pod-security-check off, namespaces are then not watched)",
    )


def add_mode_flags(parser: argparse.ArgumentParser) -> None:
    """Where templates that do not choose are injected, and who brings workloads to new revisions."""
    policy = DEFAULTS.policy
    parser.add_argument(
        "--injection-mode",
        choices=INJECTION_MODES,
        default=policy.injection_mode,
        help="for templates without an injection field: inject into the workload's pod template, or "
        "into its Pods as they are created (legacy <name>-initializer templates: always workload)",
    )
    parser.add_argument(
        "--update-policy",
        choices=UPDATE_POLICIES,
        default=policy.update_policy,
        help="for templates without an updatePolicy field: leave rollouts to `sidecar-injector rollout`, "
        "or let the server roll workloads to new revisions itself (see --rollout-* options)",
    )


def add_template_flags(parser: argparse.ArgumentParser) -> None:
    """What a template is checked against when it loads (``serve``, ``inject``, ``templates validate``)."""
    parser.add_argument(
        "--kubernetes-version",
        type=arguments.kubernetes_version,
        default=DEFAULTS.kubernetes_version,
        metavar="MAJOR.MINOR",
        help="validate templates against this Kubernetes version's schema",
    )
    security = parser.add_argument_group("template security policy (checked when templates load)")
    for flag, what in (
        ("--forbid-privileged", "with privileged containers"),
        ("--forbid-host-ports", "that use host ports"),
        ("--forbid-host-path", "with hostPath volumes"),
        ("--forbid-added-capabilities", "that add Linux capabilities"),
    ):
        security.add_argument(flag, action="store_true", help=f"refuse templates {what}")
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
        choices=LEVEL_NAMES,
        default=DEFAULTS.template_security.maximum_level.value,
        help="reject templates that need a more permissive Pod Security level",
    )


def security_policy(args: argparse.Namespace) -> TemplateSecurityPolicy:
    return TemplateSecurityPolicy(
        allow_privileged=not args.forbid_privileged,
        allow_host_ports=not args.forbid_host_ports,
        allow_host_path=not args.forbid_host_path,
        allow_added_capabilities=not args.forbid_added_capabilities,
        allowed_registries=tuple(args.allowed_registry),
        maximum_level=PodSecurityLevel(args.max_template_level),
    )


def injection_policy(args: argparse.Namespace) -> InjectionPolicy:
    return InjectionPolicy(
        legacy_annotations=not args.no_legacy_annotations,
        deny_missing_templates=args.missing_template == "deny",
        pod_security_check=args.pod_security_check,
        injection_mode=args.injection_mode,
        update_policy=args.update_policy,
        namespace_opt_in=not args.no_namespace_opt_in,
        accepted_annotations=args.accept_annotations,
    )


def mode_policy(args: argparse.Namespace) -> InjectionPolicy:
    """The policy of a command with only the opt-in and mode flags (``drift``, ``rollout``)."""
    return InjectionPolicy(
        legacy_annotations=not args.no_legacy_annotations,
        namespace_opt_in=not args.no_namespace_opt_in,
        injection_mode=args.injection_mode,
        update_policy=args.update_policy,
    )
