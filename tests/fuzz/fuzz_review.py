"""atheris target: AdmissionReview bodies through the /mutate ASGI path (``invariants.check_review``).

Run with ``scripts/fuzz review`` or ``python -m tests.fuzz.fuzz_review [libFuzzer flags] [corpus dirs]``.
"""

from tests.fuzz.harness import main

if __name__ == "__main__":
    main("review", mutator="json")
