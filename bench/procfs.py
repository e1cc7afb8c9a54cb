"""A server process as /proc shows it: CPU seconds, RSS and its peak, the process tree."""

from __future__ import annotations

import os
import threading
from contextlib import suppress
from pathlib import Path

from bench.common import BenchError

CLK_TCK = os.sysconf("SC_CLK_TCK")


def read_cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def read_status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise BenchError(f"{key} not in /proc/{pid}/status")


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_mib(pid: int, key: str = "VmRSS") -> float:
    return read_status_kib(pid, key) / 1024


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0, same user or root); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler(threading.Thread):
    """VmRSS every 10 ms: the peak, when VmHWM cannot be reset."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            with suppress(OSError, BenchError):
                self.peak_kib = max(self.peak_kib, read_status_kib(self.pid, "VmRSS"))
            self._stop_event.wait(0.01)

    def stop(self) -> float:
        self._stop_event.set()
        self.join(5)
        return self.peak_kib / 1024
