"""The connection guard subclasses uvicorn's httptools protocol and replaces its accept loop, so it
relies on uvicorn internals that no release promises to keep. pyproject.toml therefore bounds uvicorn
to the releases this was checked against; these tests fail when the installed uvicorn leaves that
range or lacks what the guard uses, before any connection misbehaves."""

from __future__ import annotations

import asyncio
import inspect
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import uvicorn
from packaging.requirements import Requirement
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from webhook.transport.connection import GuardedHttpToolsProtocol

PYPROJECT = Path(__file__).parents[3] / "pyproject.toml"


def declared_uvicorn() -> Requirement:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    [uvicorn_requirement] = [Requirement(d) for d in dependencies if Requirement(d).name == "uvicorn"]
    return uvicorn_requirement


def test_uvicorn_is_bounded_to_one_minor_release_and_the_installed_one_is_in_it() -> None:
    requirement = declared_uvicorn()
    specifiers = {spec.operator for spec in requirement.specifier}
    assert specifiers == {">=", "<"}, f"uvicorn needs a lower and an upper bound, not {requirement}"
    assert requirement.specifier.contains(version("uvicorn")), (version("uvicorn"), str(requirement))


async def _app(scope: Any, receive: Any, send: Any) -> None:
    pass


def test_the_protocol_has_the_state_and_hooks_the_guard_uses() -> None:
    config = uvicorn.Config(_app, http="httptools", lifespan="off", log_config=None)
    config.load()

    async def build() -> HttpToolsProtocol:
        return HttpToolsProtocol(config=config, server_state=ServerState(), app_state={})

    protocol = asyncio.run(build())
    assert {"parser", "cycle", "flow", "scope", "transport", "loop"} <= set(vars(protocol))
    for hook in (
        "connection_made",
        "connection_lost",
        "data_received",
        "on_message_begin",
        "on_url",
        "on_header",
        "on_headers_complete",
        "on_message_complete",
        "on_response_complete",
        "_unset_keepalive_if_required",
        "_unsupported_upgrade_warning",
    ):
        assert callable(getattr(HttpToolsProtocol, hook, None)), hook
    overridden = {
        name for name in vars(GuardedHttpToolsProtocol) if callable(getattr(HttpToolsProtocol, name, None))
    }
    assert overridden <= set(dir(HttpToolsProtocol)), "the guard overrides only methods uvicorn has"


def test_the_cycle_and_the_server_have_what_the_guard_and_the_listener_touch() -> None:
    cycle = inspect.getsource(RequestResponseCycle.__init__)
    for attribute in ("response_complete", "keep_alive", "disconnected", "message_event"):
        assert f"self.{attribute}" in cycle, attribute
    server = inspect.getsource(uvicorn.Server)
    for attribute in ("self.servers", "self.lifespan", "self.started", "self.should_exit", "self.force_exit"):
        assert attribute in server, attribute
    for method in ("startup", "shutdown", "capture_signals"):
        assert callable(getattr(uvicorn.Server, method, None)), method
    config = uvicorn.Config(_app)
    assert callable(config.bind_socket) and hasattr(config, "backlog")
    assert "http_protocol_class" in inspect.getsource(uvicorn.Config.load)
