"""detect_format(): does a ConfigMap look like another injector's configuration? For ``templates
validate``, which should point such a ConfigMap to ``import`` rather than ignore it.

Only ConfigMaps count (the three injectors read theirs from the API; tumblr's and salesforce's plain
files are never in a template folder). The check reads keys' YAML through the bounded loader and
never raises: a ConfigMap it cannot read is simply not recognised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from webhook.convert import expedia, salesforce, tumblr
from webhook.convert.items import ConfigProblem
from webhook.convert.model import ConversionError
from webhook.convert.reading import EmbeddedLoader

# Enough for any real configuration; a hostile ConfigMap costs no more than this to look at.
DETECT_BUDGET = 1024 * 1024


def detect_format(configmap: Mapping[str, Any]) -> str | None:
    """``"tumblr"``, ``"salesforce"`` or ``"expedia"`` when ``configmap`` is one of theirs, else None."""
    if configmap.get("kind") != "ConfigMap":
        return None
    data = configmap.get("data")
    if not isinstance(data, dict):
        return None
    keys = {k for k in data if isinstance(k, str) and isinstance(data[k], str)}
    if salesforce.SIDECAR_KEY in keys or salesforce.MUTATION_KEY in keys:
        return "salesforce"
    loader = EmbeddedLoader(DETECT_BUDGET)
    if expedia.DATA_KEY in keys and _is_sidecar_list(_load(loader, data[expedia.DATA_KEY])):
        return "expedia"
    for key in sorted(keys):
        body = _load(loader, data[key])
        if (
            isinstance(body, dict)
            and isinstance(body.get("name"), str)
            and (tumblr.FIELDS - {"name"}) & set(body)
        ):
            return "tumblr"
    return None


def _load(loader: EmbeddedLoader, text: str) -> Any:
    """The key's YAML, or None when it is not YAML or the budget is spent (then nothing more loads)."""
    if loader.remaining < 0:
        return None
    try:
        return loader.load("", text)
    except (ConfigProblem, ConversionError):
        return None


def _is_sidecar_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and set(item) <= set(expedia.SIDECAR_FIELDS) for item in value)
    )
