"""tumblr's ``inherits``: a configuration file names a parent file, merged under it as tumblr merges.

From tumblr's ``InjectionConfig.Merge`` (internal/pkg/config/config.go): the child's name, version
and ``inherits`` replace the parent's; ``containers``, ``initContainers``, ``volumes``, ``env`` and
``volumeMounts`` are merged by name (a child item replaces every parent item of that name, in place;
the others are appended); ``hostAliases`` are appended; a non-empty ``serviceAccountName`` of the
child wins. The path is relative to the child's file. tumblr reads the parent from disk; here it
must be among the files given, so that the import never reads a file it was not asked to.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from webhook.convert.items import ConfigProblem, merge_by_key, object_list, optional_string
from webhook.convert.names import quote

MERGED_BY_NAME = ("containers", "initContainers", "volumes", "env", "volumeMounts")
FLAGS = ("hostNetwork", "hostPID", "prependContainers")


def merge(parent: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(parent)
    merged["name"] = child.get("name")
    merged["inherits"] = child.get("inherits")
    for field in MERGED_BY_NAME:
        merged[field] = merge_by_key(object_list(parent, field), object_list(child, field))
    merged["hostAliases"] = object_list(parent, "hostAliases") + object_list(child, "hostAliases")
    if optional_string(child, "serviceAccountName"):
        merged["serviceAccountName"] = child["serviceAccountName"]
    # Newer tumblr fields its Merge never learnt about; the child's value, when it has one, is the one
    # a reader of the two files expects.
    for flag in FLAGS:
        if flag in child:
            merged[flag] = child[flag]
    return merged


def clean(file: str) -> str:
    return posixpath.normpath(file)


def parent_path(file: str, inherits: str) -> str:
    """tumblr joins ``inherits`` to the child's directory and cleans the result."""
    return clean(posixpath.join(posixpath.dirname(clean(file)), inherits))


def resolve(file: str, body: Mapping[str, Any], files: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``body`` (the configuration of ``file``) with its chain of parents merged under it.

    ``files`` maps each given file's cleaned path to its configuration. Raises ConfigProblem for a
    parent that is not given or a chain that comes back to a file already in it (tumblr would
    recurse without end).
    """
    chain = [clean(file)]
    bodies = [body]
    while True:
        inherits = optional_string(bodies[-1], "inherits")
        if not inherits:
            break
        path = parent_path(chain[-1], inherits)
        if path in chain:
            loop = " -> ".join([*chain, path])
            raise ConfigProblem(
                "inherits", f"the chain of parents comes back to a file already in it: {loop}"
            )
        if path not in files:
            raise ConfigProblem(
                "inherits",
                f"names {quote(inherits)} ({path}), which is not among the files given; give it too",
            )
        chain.append(path)
        bodies.append(files[path])
    resolved = dict(bodies[-1])
    for child in reversed(bodies[:-1]):
        resolved = merge(resolved, child)
    return resolved
