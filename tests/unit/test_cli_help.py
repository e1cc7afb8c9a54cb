"""``--help`` stands on its own: every option says what it does and what it is when not given."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from webhook.cli import build_parser, main
from webhook.cli.serve import settings_from_args

# Markup that reads as noise in a terminal: ``literal``, :role:`x`, .. directive::
RST_MARKUP = re.compile(r"``|:[a-z]+:`|^\s*\.\. ", re.M)


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every parser reachable from the top one, nested commands included (``certs generate``)."""
    yield " ".join(("sidecar-injector", *path)), parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from commands(child, (*path, name))


def rendered(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help entry of one option exactly as ``--help`` prints it."""
    formatter = parser._get_formatter()
    formatter.add_argument(action)
    return " ".join(formatter.format_help().split())


def options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if not isinstance(
            action, argparse._HelpAction | argparse._VersionAction | argparse._SubParsersAction
        ):
            yield action


ALL = list(commands(build_parser()))


def test_the_walk_reaches_every_command_including_nested_ones() -> None:
    assert {name for name, _ in ALL} >= {
        "sidecar-injector serve",
        "sidecar-injector inject",
        "sidecar-injector certs generate",
        "sidecar-injector templates validate",
    }


@pytest.mark.parametrize("name, parser", ALL, ids=[name for name, _ in ALL])
def test_every_option_has_help_and_shows_its_default(name: str, parser: argparse.ArgumentParser) -> None:
    problems = []
    for action in options(parser):
        label = "/".join(action.option_strings) or action.dest
        entry = rendered(parser, action)
        if not action.help:
            problems.append(f"{label}: no help")
        elif action.nargs == 0 or action.required or not action.option_strings:
            continue  # a flag is off unless given; a required option or a positional has no default
        elif action.default == [] and "repeatable" not in entry:
            problems.append(f"{label}: a repeatable option must say so: {entry!r}")
        elif action.default not in (None, []) and f"(default: {action.default})" not in entry:
            problems.append(f"{label}: default {action.default!r} not shown: {entry!r}")
        elif action.default is None and "default:" not in entry:
            problems.append(f"{label}: must say what happens when it is not given: {entry!r}")
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name, parser", ALL, ids=[name for name, _ in ALL])
def test_help_has_no_restructuredtext_markup(name: str, parser: argparse.ArgumentParser) -> None:
    text = parser.format_help()
    assert not RST_MARKUP.search(text), f"{name}:\n{text}"


@pytest.mark.parametrize("group, child", [("templates", "validate"), ("certs", "generate")])
def test_a_command_group_alone_prints_its_own_help(
    group: str, child: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([group]) == 2
    out = capsys.readouterr().out
    assert out.startswith(f"usage: sidecar-injector {group} ")
    assert child in out and "serve" not in out


@pytest.mark.parametrize(
    "argv, host, drain",
    [
        (["serve"], "127.0.0.1", 0.0),
        (["serve", "--port", "9443"], "127.0.0.1", 0.0),
        (["serve", "--host", "0.0.0.0", "--drain-seconds", "2"], "0.0.0.0", 2.0),
        (["serve", "--templates", "examples"], "0.0.0.0", 5.0),
        (["serve", "--kube"], "0.0.0.0", 5.0),
        (["serve", "--cert", "tls.crt", "--key", "tls.key"], "0.0.0.0", 5.0),
    ],
)
def test_a_local_trial_listens_on_loopback_and_stops_at_once_everything_else_on_all_interfaces_with_a_drain(
    argv: list[str], host: str, drain: float
) -> None:
    settings = settings_from_args(build_parser().parse_args(argv))
    assert (settings.host, settings.drain_seconds) == (host, drain)
