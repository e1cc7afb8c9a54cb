"""atheris target: ``mutate()`` over JSON engine cases (``invariants.check_engine``).

Run with ``scripts/fuzz engine`` or ``python -m tests.fuzz.fuzz_engine [libFuzzer flags] [corpus dirs]``.
"""

from tests.fuzz.harness import main

if __name__ == "__main__":
    main("engine", mutator="json")
