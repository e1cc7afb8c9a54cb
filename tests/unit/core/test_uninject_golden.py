"""inject then uninject gives every golden case's object back, byte for byte (key order included).

Each case's ``mutated.yaml`` is what the webhook made of ``object.yaml``; uninject must take exactly
what the status annotation records and nothing of the workload's own, and give back ``null`` where
there was ``null`` and nothing where there was nothing. An object that already carried the
injector's work (a Pod created from a pod template the injector had written to) comes back without
that too: uninject(inject(x)) == uninject(x), and == x for an object the injector never touched.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.unit.core.test_golden import GOLDEN
from webhook.core import InjectionPolicy
from webhook.core.lifecycle import uninject

CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "mutated.yaml").exists())


def exact(obj: object) -> str:
    return json.dumps(obj)  # keeps key order: equal text means equal bytes in any dump


@pytest.mark.parametrize("name", CASES)
def test_uninject_gives_the_original_object_back(name: str) -> None:
    folder = GOLDEN / name
    case = yaml.safe_load((folder / "case.yaml").read_text())
    original = yaml.safe_load((folder / "object.yaml").read_text())
    mutated = yaml.safe_load((folder / "mutated.yaml").read_text())
    policy = InjectionPolicy(**case.get("policy", {}))

    result = uninject(mutated, mutated["kind"], policy)

    assert not result.unknown and not result.inferred
    touched = policy.status_annotation in json.dumps(original)
    expected = uninject(original, original["kind"], policy).obj if touched else original
    assert exact(result.obj) == exact(expected)
    assert yaml.safe_dump(result.obj, sort_keys=False) == yaml.safe_dump(expected, sort_keys=False)


def test_every_case_with_a_patch_is_covered() -> None:
    assert len(CASES) >= 25
    assert all(Path(GOLDEN / name / "object.yaml").exists() for name in CASES)
