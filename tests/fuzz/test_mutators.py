"""The custom mutators run inside libFuzzer: an exception there ends the whole fuzz run as a failure
of the code under test, so they must turn any input into some output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.mutators import MUTATORS

FUZZ = Path(__file__).parent

# A manifest whose template holds what YAML allows and JSON does not: bytes and date keys.
UNUSUAL_KEYS = b"""apiVersion: v1
kind: ConfigMap
metadata: {name: odd-keys}
data:
  template: |
    containers:
    - name: a
      ? !!binary aGVsbG8=
      : 1
      2026-12-02: day
      image: busybox
    volumes: [{name: v, emptyDir: {}}]
"""


def _byte_mutate(data: bytes, max_size: int) -> bytes:
    return data[:max_size][::-1]


def _seeds(target: str) -> list[bytes]:
    return [path.read_bytes() for path in sorted((FUZZ / "corpus" / target).glob("*")) if path.is_file()]


@pytest.mark.parametrize(
    ("mutator", "seeds"),
    [("json", _seeds("review") + _seeds("engine")), ("templates", [*_seeds("templates"), UNUSUAL_KEYS])],
)
def test_mutator_never_raises(mutator: str, seeds: list[bytes]) -> None:
    mutate = MUTATORS[mutator]
    for data in seeds:
        for seed in range(300):
            out = mutate(data, 4096, seed, _byte_mutate)
            assert isinstance(out, bytes)
            assert len(out) <= 4096
