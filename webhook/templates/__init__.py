"""Turn users' ConfigMaps into validated core templates and hold the current snapshot.

TemplateError           a template that cannot be served (names source, key, field)
"""

from webhook.templates.errors import TemplateError

__all__ = ["TemplateError"]
