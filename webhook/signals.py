"""The signals the server ignores: stdlib only, so the CLI can set them before any slow import."""

from __future__ import annotations

import signal

IGNORED_SIGNALS = (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


def ignore_stray_signals() -> None:
    """SIGHUP, SIGUSR1 and SIGUSR2 kill a process by default; a stray ``kill -HUP`` (or a closing
    terminal) must never stop the webhook without its drain. Templates and certificates reload on
    their own, so these signals have nothing to ask for: ignored by the kernel from the first moment
    (the prefork parent stays so), and logged once a worker's event loop handles them.
    """
    for sig in IGNORED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
