"""The README works as written in a fresh clone: its commands name programs that exist after its
first line, and the ones that need no cluster run and leave nothing behind in the checkout."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
README = (REPO / "README.md").read_text()
# Programs a reader brings (the README says so); everything else must come from the checkout.
EXTERNAL = {"python3", "bash", "helm", "kubectl", "docker", "curl", "base64", "mktemp", "grep"}
SCRIPTS = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"])
VENV_PROGRAMS = {f".venv/bin/{name}" for name in {"python", "python3", "pip", *SCRIPTS}}
SEPARATORS = {"|", "||", "&&", ";", "&"}


def shell_blocks(text: str) -> list[list[str]]:
    """Each ```sh block as its commands, continuation lines joined."""
    blocks = re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S)
    return [[line for line in block.replace("\\\n", " ").splitlines() if line.strip()] for block in blocks]


def programs(command: str) -> list[str]:
    """The program of each simple command on the line (variable assignments skipped)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    found, expecting = [], True
    for token in lexer:
        if token in SEPARATORS:
            expecting = True
        elif expecting and not re.match(r"^\w+=", token):
            found.append(token)
            expecting = False
    return found


def test_the_readme_opens_with_exactly_the_two_set_up_commands() -> None:
    first = shell_blocks(README)[0]
    assert len(first) == 2
    assert first[0].startswith(
        "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/sidecar-injector serve"
    )
    assert first[1].startswith("bash scripts/check ")
    assert "needs `npm` and access to the npm registry" in README


def test_every_shell_command_names_a_program_the_reader_has_after_the_first_line() -> None:
    wrong = [
        (program, line)
        for block in shell_blocks(README)
        for line in block
        for program in programs(line)
        if program not in EXTERNAL | VENV_PROGRAMS
    ]
    assert not wrong, "not a program a reader has: " + "; ".join(f"{p!r} in {line!r}" for p, line in wrong)


def test_no_inline_command_calls_a_program_that_only_the_virtualenv_has() -> None:
    prose = re.sub(r"^```.*?^```", "", README, flags=re.M | re.S)
    prose = " ".join(line for line in prose.splitlines() if not line.startswith("|"))
    spans = re.findall(r"`([^`]+)`", prose)
    assert any(span.startswith(".venv/bin/python ") for span in spans)
    bare = [span for span in spans if re.match(r"^(python|pytest|pip|ruff|mypy)(\s|$)", span)]
    assert not bare, f"call these through .venv/bin/: {bare}"


def test_the_offline_commands_run_as_written_and_write_nothing_into_the_checkout(tmp_path: Path) -> None:
    cli = REPO / ".venv" / "bin" / "sidecar-injector"
    if not cli.exists():
        pytest.fail(f"{cli} is missing: the README's first line (or bash scripts/check) creates it")
    offline = {"inject", "templates", "certs"}
    script = ["set -euo pipefail"]
    for block in shell_blocks(README):
        for line in block:
            words = shlex.split(line, comments=True) or [""]
            if re.match(r"^\w+=", words[0]) or (
                words[0] == ".venv/bin/sidecar-injector" and words[1] in offline
            ):
                script.append(line)
    assert sum(".venv/bin/sidecar-injector" in line for line in script) >= 4, script

    before = _checkout_state()
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "[\n  []\n]" in result.stdout, "the second pass adds nothing"
    assert list(tmp_path.glob("*/tls.key")), "the certificates go to the temporary folder"
    assert _checkout_state() == before


def _checkout_state() -> str:
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=normal"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    caches = ("__pycache__", ".pytest_cache", ".hypothesis")
    return "\n".join(line for line in status.splitlines() if not any(c in line for c in caches))


def test_certificates_written_inside_the_checkout_are_ignored_by_git() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", "certs/out/tls.key"], cwd=REPO, check=False)
    assert ignored.returncode == 0
