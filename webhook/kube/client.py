"""Building the API client once, the same way for every watcher, and describing its failures."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import kubernetes.client
import kubernetes.config
from kubernetes.client.exceptions import ApiException

from webhook.kube.reflector import ProtocolViolation

SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def build_client(
    api_client: kubernetes.client.ApiClient | None,
    configuration: kubernetes.client.Configuration | None,
    kubeconfig: str | None,
) -> tuple[kubernetes.client.ApiClient, bool]:
    """The client to use and whether we own (and so close) it.

    ``api_client`` as given, else ``configuration`` (e.g. a test's ``Configuration(host=...)``), else
    ``kubeconfig`` (a file path), else in-cluster credentials.
    """
    if api_client is not None:
        return api_client, False
    if configuration is not None:
        config = copy.deepcopy(configuration)  # never alter the caller's object
    else:
        config = kubernetes.client.Configuration()
        if kubeconfig is not None:
            # Same as new_client_from_config, but we set retries before the client builds its pool.
            kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, client_configuration=config
            )
        else:
            kubernetes.config.load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
    # Our watch loops are the one retry policy (with backoff); urllib3's immediate retries would multiply it.
    config.retries = 0
    return kubernetes.client.ApiClient(config), True


class KubeError(Exception):
    """A request to the API failed: ``status`` is the HTTP status (None: no answer), ``reason`` the
    Status reason (``NotFound``, ``Conflict``, ...) or what went wrong on the way."""

    def __init__(self, status: int | None, reason: str, message: str) -> None:
        super().__init__(f"HTTP {status} {reason}: {message}" if status else f"{reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


def as_kube_error(exc: BaseException) -> KubeError:
    """An ApiException (its Status body's reason and message) or a connection failure, as KubeError."""
    if isinstance(exc, ApiException):
        reason, message = exc.reason or "", ""
        try:
            body = json.loads(exc.body or b"{}")
            reason, message = body.get("reason") or reason, body.get("message") or ""
        except (ValueError, AttributeError):
            message = str(exc.body or "")[:300]
        return KubeError(exc.status, reason, message)
    return KubeError(None, "unreachable", describe_failure(exc))


def command_client(kubeconfig: str | None) -> tuple[kubernetes.client.ApiClient, str]:
    """The client of a command run by a person or a Job, and its default namespace: ``kubeconfig``,
    else in-cluster credentials inside a pod, else kubectl's (``$KUBECONFIG``, ``~/.kube/config``),
    with the current context's namespace as kubectl uses it. Raises KubeError."""
    config = kubernetes.client.Configuration()
    namespace = "default"
    try:
        if kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            kubernetes.config.load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
            namespace = Path(SERVICE_ACCOUNT_NAMESPACE).read_text().strip() or namespace
        else:
            kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, client_configuration=config
            )
            _, current = kubernetes.config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
            namespace = (current or {}).get("context", {}).get("namespace") or namespace
    except (kubernetes.config.ConfigException, OSError) as exc:
        raise KubeError(None, "no-credentials", str(exc)) from exc
    config.retries = 0
    return kubernetes.client.ApiClient(config), namespace


def describe_failure(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    if isinstance(exc, ProtocolViolation):
        return f"unexpected response: {exc}"
    return f"{type(exc).__name__}: {exc}"
