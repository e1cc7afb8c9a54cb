"""Every CLI argument is checked when parsed: a bad value is a usage error naming it, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import REPO, free_port

pytestmark = pytest.mark.integration

SIDECAR_CONFIG = "tests/golden-import/salesforce-pod-data-and-init-order-differ/sidecarconfig.yaml"
CERTS = ["certs", "generate", "--service", "s", "--namespace", "n"]
BAD = {
    "certs --days 0": ([*CERTS, "--out", "{tmp}", "--days", "0"], "argument --days: 0 is out of range"),
    "certs --days 99999": (
        [*CERTS, "--out", "{tmp}", "--days", "99999"],
        "argument --days: 99999 is out of range",
    ),
    "certs empty --namespace": (
        ["certs", "generate", "--service", "s", "--namespace", "", "--out", "{tmp}"],
        "argument --namespace: must not be empty",
    ),
    "certs empty --service": (
        ["certs", "generate", "--service", "", "--namespace", "n", "--out", "{tmp}"],
        "argument --service: must not be empty",
    ),
    "certs --service not a DNS label": (
        ["certs", "generate", "--service", "My_Svc", "--namespace", "n", "--out", "{tmp}"],
        "argument --service: 'My_Svc' is not a valid name",
    ),
    "certs --extra-name": (
        [*CERTS, "--out", "{tmp}", "--extra-name", "not a name"],
        "argument --extra-name: 'not a name' is neither an IP address nor a DNS name",
    ),
    "serve --port 0": (["serve", "--port", "0"], "argument --port: 0 is out of range"),
    "serve --port 70000": (["serve", "--port", "70000"], "argument --port: 70000 is out of range"),
    "serve --metrics-port -1": (
        ["serve", "--metrics-port", "-1"],
        "argument --metrics-port: -1 is out of range",
    ),
    "serve same ports": (["serve", "--port", "9443", "--metrics-port", "9443"], "--metrics-port must differ"),
    "serve --log-level": (["serve", "--log-level", "chatty"], "argument --log-level: 'chatty' is not one of"),
    "serve --workers 0": (["serve", "--workers", "0"], "argument --workers: 0 is out of range"),
    "serve --drain-seconds": (
        ["serve", "--drain-seconds", "-1"],
        "argument --drain-seconds: -1 is out of range",
    ),
    "serve --request-timeout": (["serve", "--request-timeout", "0"], "argument --request-timeout: 0 is out"),
    "serve --idle-timeout": (
        ["serve", "--idle-timeout", "inf"],
        "argument --idle-timeout: inf is not a finite",
    ),
    "serve --max-body-bytes": (
        ["serve", "--max-body-bytes", "0"],
        "argument --max-body-bytes: 0 is out of range",
    ),
    "serve --max-inflight": (
        ["serve", "--max-inflight", "-5"],
        "argument --max-inflight: -5 is out of range",
    ),
    "serve buffered below body": (
        ["serve", "--max-buffered-bytes", "10"],
        "--max-buffered-bytes must be at least",
    ),
    "serve empty --namespace": (["serve", "--namespace", ""], "argument --namespace: must not be empty"),
    "serve --watch-namespace": (
        ["serve", "--watch-namespace", "Team A"],
        "argument --watch-namespace: 'Team A'",
    ),
    "serve empty --host": (["serve", "--host", ""], "argument --host: must not be empty"),
    "serve --kubernetes-version": (["serve", "--kubernetes-version", "2.0"], "'2.0' is not a known version"),
    "serve --cert alone": (["serve", "--cert", "tls.crt"], "--cert and --key go together"),
    "inject --namespace": (
        ["inject", "--templates", "examples", "-f", "-", "--namespace", "Prod"],
        "argument --namespace: 'Prod' is not a valid name",
    ),
    "inject --accept-annotations salesforce without its configuration": (
        ["inject", "--templates", "examples", "-f", "-", "--accept-annotations", "tumblr,salesforce"],
        "argument --accept-annotations: salesforce needs its configuration: salesforce=PATH",
    ),
    "inject --accept-annotations tumblr with a configuration": (
        ["inject", "--templates", "examples", "-f", "-", "--accept-annotations", "tumblr=conf.yaml"],
        "argument --accept-annotations: tumblr=conf.yaml: only salesforce takes a configuration",
    ),
    "serve --accept-annotations salesforce missing file": (
        ["serve", "--accept-annotations", "salesforce={tmp}"],
        "argument --accept-annotations: {tmp}: cannot read it: No such file or directory",
    ),
    "serve --accept-annotations salesforce not YAML": (
        ["serve", "--accept-annotations", "salesforce=README.md"],
        "not valid YAML: found character",
    ),
    "inject --accept-annotations salesforce sidecar config": (
        [
            "inject",
            "--templates",
            "examples",
            "-f",
            "-",
            "--accept-annotations",
            f"salesforce={SIDECAR_CONFIG}",
        ],
        f"argument --accept-annotations: {SIDECAR_CONFIG}: no mutation config in it",
    ),
    "validate empty --allowed-registry": (
        ["templates", "validate", "examples", "--allowed-registry", ""],
        "argument --allowed-registry: must not be empty",
    ),
}


@pytest.mark.parametrize("argv, message", BAD.values(), ids=BAD.keys())
def test_a_bad_argument_is_a_usage_error_that_names_it(argv: list[str], message: str, tmp_path: Path) -> None:
    argv = [a.replace("{tmp}", str(tmp_path / "out")) for a in argv]
    message = message.replace("{tmp}", str(tmp_path / "out"))
    if argv[0] == "serve" and "--port" not in argv:
        argv += ["--port", str(free_port())]  # should the check fail to stop it, nothing else is disturbed
    result = subprocess.run(
        [sys.executable, "-m", "webhook", *argv],
        cwd=REPO,
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "Traceback" not in result.stderr
    assert result.returncode == 2, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("sidecar-injector ") and ": error: " in last and message in last, result.stderr
    assert not (tmp_path / "out").exists(), "nothing is written after a refused argument"


def test_certs_generate_into_a_path_that_cannot_be_a_folder_is_one_error_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "webhook", *CERTS, "--out", str(blocker / "certs")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        result.stderr == f"error: cannot write the certificates into {blocker / 'certs'}: Not a directory\n"
    )
