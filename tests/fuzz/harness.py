"""The shared atheris entry point of the ``fuzz_*.py`` targets; never imported by pytest.

``instrument_imports`` must see the webhook modules imported for the first time, so the invariants
(and through them the webhook) are imported inside it, here, and nowhere earlier in the process.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import atheris


def main(target: str, mutator: str, instrument: Sequence[str] = ("webhook",)) -> None:
    with atheris.instrument_imports(include=list(instrument)):
        from tests.fuzz import invariants, mutators

    check = invariants.CHECKS[target]
    mutate = mutators.MUTATORS[mutator]

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        return mutate(data, max_size, seed, atheris.Mutate)

    atheris.Setup(sys.argv, check, custom_mutator=custom_mutator)
    atheris.Fuzz()
