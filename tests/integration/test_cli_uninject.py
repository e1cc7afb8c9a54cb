"""``uninject`` as a user runs it: the inverse of ``inject``, byte for byte, for every golden case."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.support.processes import REPO, cli
from tests.unit.core.test_golden import GOLDEN
from webhook.cli import main
from webhook.core import InjectionPolicy
from webhook.core.lifecycle import uninject
from webhook.offline import dump_documents

pytestmark = pytest.mark.integration

CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "mutated.yaml").exists())


@pytest.mark.parametrize("name", CASES)
def test_uninject_prints_each_golden_case_as_it_was_before_injection(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = GOLDEN / name
    original = yaml.safe_load((folder / "object.yaml").read_text())
    if "sidecar-injector.io/status" in json.dumps(original):  # already carried the injector's work
        original = uninject(original, original["kind"], InjectionPolicy()).obj

    assert main(["uninject", "-f", str(folder / "mutated.yaml")]) == 0

    out = capsys.readouterr()
    assert out.out == dump_documents([original])
    assert out.err == ""


def test_inject_then_uninject_through_a_pipe_gives_the_manifests_back() -> None:
    manifest = (REPO / "examples" / "app-with-log-shipper.yaml").read_text()
    seed = (REPO / "examples" / "helloworld-with-annotation.yaml").read_text()
    service = "apiVersion: v1\nkind: Service\nmetadata: {name: shop}\nspec: {ports: [{port: 80}]}\n"
    listed = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [yaml.safe_load(manifest)]})
    text = f"{manifest}---\n{seed}---\n{service}---\n{listed}"
    injected = cli("inject", "--templates", "examples", "-f", "-", input=text).stdout
    assert injected != dump_documents(list(yaml.safe_load_all(text)))

    back = cli("uninject", "-f", "-", input=injected)

    assert back.stdout == dump_documents(list(yaml.safe_load_all(text)))
    assert back.stderr == ""


def test_an_old_status_is_undone_only_with_the_template_of_that_revision() -> None:
    injected = yaml.safe_load(
        cli("inject", "--templates", "examples", "-f", "examples/helloworld-with-annotation.yaml").stdout
    )
    annotations = injected["spec"]["template"]["metadata"]["annotations"]
    recorded = json.loads(annotations["sidecar-injector.io/status"])["injected"]
    annotations["sidecar-injector.io/status"] = json.dumps(
        {"injected": [{"name": e["name"], "revision": e["revision"]} for e in recorded]}
    )
    old = yaml.safe_dump(injected, sort_keys=False)

    kept = cli("uninject", "-f", "-", input=old)
    assert "does not record what template 'logging-agent' added" in kept.stderr
    assert yaml.safe_load(kept.stdout) == injected

    undone = cli("uninject", "--templates", "examples", "-f", "-", input=old)
    assert "removed as the served template of the same revision adds it" in undone.stderr
    containers = yaml.safe_load(undone.stdout)["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["helloworld"]


def test_unreadable_input_is_one_error_line() -> None:
    result = cli("uninject", "-f", "-", input="- just\n- a list\n", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: standard input: line 1:")
