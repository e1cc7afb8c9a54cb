"""Logging setup, done once by the composition root: plain text for people, JSON lines for clusters."""

from __future__ import annotations

import json
import logging
import os
import sys
import time


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "pid": record.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _CachedPid(logging.Filter):
    """Stamps the pid without a getpid() system call per record (a measurable share of a review)."""

    pid = os.getpid()

    def filter(self, record: logging.LogRecord) -> bool:
        record.process = self.pid
        return True


def _refresh_pid() -> None:
    _CachedPid.pid = os.getpid()


os.register_at_fork(after_in_child=_refresh_pid)


# Every uvicorn.Server (the admission port, the metrics port) logs these for itself, so each came out
# twice; the runtime logs one line of its own when it starts serving and when it stops.
_UVICORN_LIFECYCLE = frozenset(
    {"Started server process [%d]", "Shutting down", "Finished server process [%d]"}
)


def _not_server_lifecycle(record: logging.LogRecord) -> bool:
    return record.msg not in _UVICORN_LIFECYCLE


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    # Per-record lookups nobody reads: thread and multiprocessing names, and the pid (cached above).
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging.logProcesses = False
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_CachedPid())
    if fmt == "json":
        handler.setFormatter(JsonLineFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The one structured line per review replaces uvicorn's access log.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("uvicorn.error").addFilter(_not_server_lifecycle)
