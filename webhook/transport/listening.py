"""Listening sockets, bound before anything announces them, with errors that name the port and flag.

Binding up front (instead of letting uvicorn bind inside its task) means a taken port stops the
process with one line that says which port, before any "listening" banner, and the banner can only
ever describe ports that are really open.
"""

from __future__ import annotations

import errno
import resource
import socket
from dataclasses import dataclass


class ListenError(Exception):
    """A port that cannot be listened on; the message names the flag that chose it."""


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def listen(host: str, port: int, flag: str) -> socket.socket:
    """A listening socket on host:port, or a ListenError that says what to change."""
    try:
        return bind(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            taken = f"port {port} ({flag}) is already in use on {host}"
            message = f"{taken}; stop the other server or choose another port"
        else:
            message = f"cannot listen on {host}:{port} ({flag}): {exc.strerror or exc}"
        raise ListenError(message) from exc


@dataclass(slots=True)
class Listening:
    """The sockets bound before anything is announced, in the order the servers use them."""

    admission: socket.socket | None = None
    metrics: socket.socket | None = None
    probe: socket.socket | None = None

    def sockets(self) -> list[socket.socket]:
        return [sock for sock in (self.admission, self.metrics, self.probe) if sock is not None]

    def close(self) -> None:
        for sock in self.sockets():
            sock.close()


def raise_open_file_limit() -> None:
    """Idle keep-alive connections cost a descriptor each; allow as many as the hard limit does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
