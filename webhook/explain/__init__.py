"""``sidecar-injector explain``'s pure half: why an object is (or would be) injected or not.

It runs the server's own decision and renders what it found; it imports the core and nothing
else (a layer of its own in pyproject.toml; tests/test_architecture.py checks the imports). The
CLI (``webhook/cli/explain.py``) reads the object, its namespace and the templates.

- ``explain_object(obj, facts, templates, policy, rejected, live=)`` -> ``Explanation``;
- ``as_data(explanation)`` (``-o json``) and ``as_text(explanation)`` (the human report);
- ``Explanation.exit_code``: 0 injected or would be, 2 skipped or denied, 3 a live object not at
  the current revisions (outdated, missing its injection, or running a template that is gone).
"""

from webhook.explain.render import as_data, as_text
from webhook.explain.report import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_OUTDATED,
    EXIT_SKIPPED,
    Explanation,
    Rejection,
    TemplateLoad,
    explain_object,
)

__all__ = [
    "EXIT_ERROR",
    "EXIT_OK",
    "EXIT_OUTDATED",
    "EXIT_SKIPPED",
    "Explanation",
    "Rejection",
    "TemplateLoad",
    "as_data",
    "as_text",
    "explain_object",
]
