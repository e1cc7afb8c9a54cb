"""Replays every fuzz seed and every kept reproducer through the fuzz invariants, without atheris.

``corpus/<target>/`` holds the seeds; ``regressions/<target>/`` every input a fuzz run ever failed on
(``scripts/fuzz`` writes them there). A reproducer stays after its fix, so the bug cannot come back
unnoticed: each file is one test, named after it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.invariants import CHECKS, TARGETS

FUZZ = Path(__file__).parent
INPUTS = sorted(
    path
    for folder in ("corpus", "regressions")
    for target in TARGETS
    for path in (FUZZ / folder / target).glob("*")
    if path.is_file() and not path.name.startswith(".")
)


def test_every_target_has_seeds() -> None:
    for target in TARGETS:
        assert any((FUZZ / "corpus" / target).iterdir()), f"no seeds for {target}"


@pytest.mark.parametrize("path", INPUTS, ids=[str(p.relative_to(FUZZ)) for p in INPUTS])
def test_input_keeps_the_invariants(path: Path) -> None:
    CHECKS[path.parent.name](path.read_bytes())
