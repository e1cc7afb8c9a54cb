"""Reading one whole list, page by page (``limit``/``continue``), into a reflector.

kube-apiserver serves every page of a list from the snapshot of its first page, so the pages add up
to one consistent list whose resourceVersion a watch can start from. A continue token expires when
that snapshot is compacted away (410 Gone on a later page); the list then starts again from its
first page, once, as client-go's pager does before it gives up. Pages bound the memory a list
costs: one page of whole objects at a time, each projected by the reflector's transform before the
next is read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubernetes.client.exceptions import ApiException

from webhook.kube.reflector import HTTP_GONE, JsonObject, ObjectKey, Reflector

DEFAULT_PAGE_SIZE = 500
"""client-go's pager default."""


def read_list(
    request: Any,
    reflector: Reflector,
    *,
    page_size: int | None = DEFAULT_PAGE_SIZE,
    timeout: tuple[float, float] | None = None,
) -> Mapping[ObjectKey, JsonObject]:
    """List the whole collection through ``request`` (a CollectionRequest); returns the new map.

    Raises what the request raises (ApiException, urllib3 errors, OSError, ValueError for bad JSON,
    ProtocolViolation), except a first expired continue token, which restarts the list.
    """
    for attempt in range(2):
        try:
            return _pages(request, reflector, page_size, timeout)
        except ApiException as exc:
            if exc.status != HTTP_GONE or attempt:
                raise
    raise AssertionError("unreachable")


def _pages(
    request: Any, reflector: Reflector, page_size: int | None, timeout: tuple[float, float] | None
) -> Mapping[ObjectKey, JsonObject]:
    reflector.begin_list()
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {}
        if timeout is not None:
            kwargs["_request_timeout"] = timeout
        if page_size:
            kwargs["limit"] = page_size
        if token is not None:
            kwargs["_continue"] = token
        response = request(**kwargs)
        try:
            body = json.loads(response.data)
        finally:
            response.release_conn()
        if not isinstance(body, dict):
            raise ValueError("a list response is not a JSON object")
        token = reflector.on_list_page(body)
        if token is None:
            return reflector.objects
