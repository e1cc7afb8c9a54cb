"""atheris target: template manifests (YAML) through the template parser (``invariants.check_templates``).

Run with ``scripts/fuzz templates`` or ``python -m tests.fuzz.fuzz_templates [libFuzzer flags] [corpus dirs]``.
PyYAML is instrumented too: what it builds from odd YAML is exactly what the parser must survive.
"""

from tests.fuzz.harness import main

if __name__ == "__main__":
    main("templates", mutator="templates", instrument=("webhook", "yaml"))
