"""``serve --accept-annotations``: a workload still carrying another injector's opt-in annotation gets,
over real HTTPS, what ``import`` and the annotation rewrite give it (the import golden cases'
``injected.yaml``), with its own annotations left as they were; without the flag, nothing.

Every server serves the templates of every import golden case; salesforce is accepted with one
mutation config per server (``salesforce=PATH``, the file its import read), so there is one accepting
server per salesforce case, and the tumblr and Expedia cases use any of them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import jsonpatch
import pytest
import yaml

from tests.integration.test_https_admission import apiserver_context, post_review
from tests.support.processes import RunningServer, cli, running_server
from tests.support.reviews import review
from tests.support.validation import assert_valid
from webhook.cli.arguments import ACCEPTABLE_ANNOTATIONS
from webhook.convert.accept import ACCEPTABLE
from webhook.core.workloads import locate_pod_template

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).parents[1] / "golden-import"
INJECT = "sidecar-injector.io/inject"
CASES = {
    name: yaml.safe_load((GOLDEN / name / "case.yaml").read_text())
    for name in sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
}
ACCEPTED_CASES = sorted(name for name, case in CASES.items() if case["from"] in ACCEPTABLE)
SALESFORCE_CASES = [name for name in ACCEPTED_CASES if CASES[name]["from"] == "salesforce"]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    cli(
        "certs",
        "generate",
        "--service",
        "sidecar-injector",
        "--namespace",
        "webhook",
        "--out",
        str(out),
        "--extra-name",
        "localhost",
    )
    return out


@contextmanager
def serve(certs: Path, tmp_path: Path, flags: list[str]) -> Iterator[RunningServer]:
    folder = tmp_path / "templates"
    folder.mkdir()
    for name in ACCEPTED_CASES:
        (folder / f"{name}.yaml").write_text((GOLDEN / name / "templates.yaml").read_text())
    args = ["--templates", str(folder), "--cert", str(certs / "tls.crt"), "--key", str(certs / "tls.key")]
    with running_server([*args, *flags], tmp_path, apiserver_context(certs)) as running:
        yield running
        assert running.stop() == 0, running.log()


def mutation_config(name: str) -> Path:
    """The file of a salesforce case's input that holds its mutation config."""
    [found] = [f for f in CASES[name]["files"] if "mutationConfigs" in (GOLDEN / name / f).read_text()]
    return GOLDEN / name / found


@pytest.fixture(scope="module")
def accepting(
    certs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], RunningServer]]:
    """The accepting server for a case, started on first use."""
    started: dict[str, RunningServer] = {}
    with ExitStack() as stack:

        def server_for(name: str) -> RunningServer:
            config = name if CASES[name]["from"] == "salesforce" else SALESFORCE_CASES[0]
            if config not in started:
                formats = ",".join(
                    f"salesforce={mutation_config(config)}" if f == "salesforce" else f for f in ACCEPTABLE
                )
                flags = ["--accept-annotations", formats]
                started[config] = stack.enter_context(
                    serve(certs, tmp_path_factory.mktemp("accepting"), flags)
                )
            return started[config]

        yield server_for


@pytest.fixture(scope="module")
def plain(certs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serve(certs, tmp_path_factory.mktemp("plain"), []) as running:
        yield running


def admit(
    server: RunningServer, certs: Path, workload: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    namespace = workload["metadata"].get("namespace", "default")
    answer = post_review(server, certs, json.dumps(review(workload, namespace=namespace)).encode())
    assert answer.status_code == 200, answer.text
    response = answer.json()["response"]
    patch = json.loads(base64.b64decode(response["patch"])) if "patch" in response else []
    return jsonpatch.apply_patch(workload, patch), response


def pod_annotations(obj: dict[str, Any]) -> dict[str, str]:
    node: Any = obj
    for token in (*(locate_pod_template(obj["kind"]) or ()), "metadata"):
        node = node[token]
    annotations: dict[str, str] = node.setdefault("annotations", {})
    return annotations


def test_the_formats_the_cli_accepts_are_the_converters() -> None:
    assert ACCEPTABLE_ANNOTATIONS == ACCEPTABLE
    assert {CASES[name]["from"] for name in ACCEPTED_CASES} == set(ACCEPTABLE)


@pytest.mark.parametrize("name", ACCEPTED_CASES)
def test_an_unchanged_workload_gets_what_the_imported_templates_give_the_rewritten_one(
    accepting: Callable[[str], RunningServer], certs: Path, name: str
) -> None:
    folder = GOLDEN / name
    server = accepting(name)
    workload = yaml.safe_load((folder / CASES[name]["workload"]).read_text())
    original = dict(pod_annotations(yaml.safe_load((folder / CASES[name]["workload"]).read_text())))
    mutated, response = admit(server, certs, workload)
    assert response["allowed"] and response.get("patch"), response
    expected = yaml.safe_load((folder / "injected.yaml").read_text())
    # The rewrite replaced the old opt-in annotation with ours; here the workload kept its own.
    rewritten = pod_annotations(expected)
    rewritten.pop(INJECT)
    rewritten.update(original)
    assert mutated == expected
    assert_valid(mutated)
    again, _ = admit(server, certs, mutated)
    assert again == mutated  # the status annotation makes a second admission a no-op


@pytest.mark.parametrize("name", ACCEPTED_CASES)
def test_without_the_flag_the_old_annotation_asks_for_nothing(
    plain: RunningServer, certs: Path, name: str
) -> None:
    workload = yaml.safe_load((GOLDEN / name / CASES[name]["workload"]).read_text())
    mutated, response = admit(plain, certs, workload)
    assert mutated == workload, response
