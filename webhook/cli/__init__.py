"""The ``sidecar-injector`` command line: one module per command group, each with ``register()``.

A module adds its parser (options, help) and the function that runs it; ``COMMAND_GROUPS`` lists
them in the order ``--help`` shows them, so a new command group is a new module and one line here.
Option value types are in ``arguments``, what several commands share (the help formatter, the policy and
template option groups) in ``options``; every default comes from ``webhook.settings.DEFAULTS``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from webhook import __version__
from webhook.build_info import core_build
from webhook.cli import (
    certs,
    convert,
    drift,
    explain,
    export,
    inject,
    options,
    rollout,
    serve,
    templates,
    uninject,
)

DESCRIPTION = (
    "sidecar-injector: serve the webhook, preview, explain or undo an injection, show and roll out template "
    "drift, issue certificates, import other injectors' configurations, export templates as admission "
    "policies, check templates."
)
COMMAND_GROUPS = (serve, inject, uninject, explain, drift, rollout, certs, convert, export, templates)


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
        prog="sidecar-injector", description=DESCRIPTION, formatter_class=options.HelpFormatter
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__} (core {core_build()})"
    )
    commands = parser.add_subparsers(title="commands")
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser
