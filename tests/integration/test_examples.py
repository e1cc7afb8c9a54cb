"""Every example does what it says: after ``inject``, the agent reads what the app writes.

The check follows the wiring a reader would: the file the app's command writes (its env expanded),
the file pattern the agent is told to read, and through each container's own mounts, the volume
behind both paths. It must be one volume, shared by both containers.
"""

from __future__ import annotations

import fnmatch
import re
import string
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from tests.support.processes import REPO, cli
from tests.support.validation import assert_valid

pytestmark = pytest.mark.integration

EXAMPLES = REPO / "examples"
# Example workload → (app container, agent container). Every annotated workload in examples/ is here
# or in SEED, so a new example cannot arrive without its wiring checked.
WIRED = {"app-with-log-shipper.yaml": ("shop", "log-shipper")}
# Kept byte for byte from the Initializer tutorial (examples/README.md says what they show).
SEED = {"helloworld-with-annotation.yaml"}


def annotated_workloads() -> set[str]:
    found = set()
    for path in EXAMPLES.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") != "ConfigMap" and "annotations" in (doc.get("metadata") or {}):
                found.add(path.name)
    return found


def injected(example: str) -> dict[str, Any]:
    result = cli("inject", "--templates", "examples", "-f", f"examples/{example}")
    assert result.stderr == "", result.stderr
    [workload] = yaml.safe_load_all(result.stdout)
    assert_valid(workload)
    return dict(workload["spec"]["template"]["spec"])


def container(spec: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in (*spec.get("containers", []), *spec.get("initContainers", [])) if c["name"] == name]
    return dict(found)


def written_file(app: dict[str, Any]) -> PurePosixPath:
    """The file the app's shell command appends to, with the container's env expanded."""
    command = " ".join(app.get("command", []) + app.get("args", []))
    match = re.search(r'>>\s*"?([^"\s;]+)', command)
    assert match, f"the app's command writes no file: {command!r}"
    env = {e["name"]: e["value"] for e in app.get("env", [])}
    return PurePosixPath(string.Template(match.group(1)).substitute(env))


def read_pattern(agent: dict[str, Any]) -> str:
    """The file pattern the agent tails (fluent-bit's ``-p path=…``)."""
    [pattern] = [a.split("=", 1)[1] for a in agent.get("args", []) if a.startswith("path=")]
    return str(pattern)


def volume_behind(c: dict[str, Any], path: PurePosixPath) -> str:
    """The volume a container sees at ``path``: its deepest mount that contains the path."""
    mounts = [m for m in c.get("volumeMounts", []) if path.is_relative_to(m["mountPath"])]
    assert mounts, f"{c['name']} has no mount at {path}"
    return str(max(mounts, key=lambda m: len(m["mountPath"]))["name"])


def test_every_annotated_example_is_checked_for_its_wiring_or_is_the_verbatim_seed() -> None:
    assert annotated_workloads() == set(WIRED) | SEED
    for name in SEED:
        assert (EXAMPLES / name).read_bytes() == (REPO / "tests" / "seed" / name).read_bytes()


@pytest.mark.parametrize("example", sorted(WIRED))
def test_the_agent_reads_the_file_the_app_writes_through_one_shared_volume(example: str) -> None:
    spec = injected(example)
    app_name, agent_name = WIRED[example]
    app, agent = container(spec, app_name), container(spec, agent_name)
    written, pattern = written_file(app), read_pattern(agent)
    assert fnmatch.fnmatch(str(written), pattern), f"the app writes {written}, the agent reads {pattern}"
    volume = volume_behind(app, written)
    assert volume == volume_behind(agent, written), "the app and the agent see different volumes there"
    [declared] = [v for v in spec["volumes"] if v["name"] == volume]
    assert "emptyDir" in declared, "a volume both containers of the pod share"
    read_only = {m["name"]: m.get("readOnly", False) for m in agent["volumeMounts"]}
    assert read_only[volume] is True and not any(m.get("readOnly") for m in app["volumeMounts"])


def test_the_checks_above_catch_an_app_whose_own_log_dir_wins_over_the_template(tmp_path: Path) -> None:
    """What the flagship example did before: LOG_DIR=/logs in the app, so nothing was shipped."""
    manifest = yaml.safe_load((EXAMPLES / "app-with-log-shipper.yaml").read_text())
    manifest["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "LOG_DIR", "value": "/logs"}]
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(manifest))
    [workload] = yaml.safe_load_all(cli("inject", "--templates", "examples", "-f", str(broken)).stdout)
    app = container(workload["spec"]["template"]["spec"], "shop")
    assert str(written_file(app)) == "/logs/shop.log"
    assert not fnmatch.fnmatch(
        "/logs/shop.log", read_pattern(container(workload["spec"]["template"]["spec"], "log-shipper"))
    )
