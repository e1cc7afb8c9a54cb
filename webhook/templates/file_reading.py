"""Reading one template file: only a regular file, only so many bytes, never while a writer has it open.

A FIFO named ``t.yaml`` would block a plain ``open()`` forever and ``/dev/zero`` would fill memory, so
a file is opened without blocking, checked with ``fstat`` and read up to a bound.

A half-written file must never be loaded, and comparing two reads cannot promise that: a writer may
pause longer than any settle time. Linux can tell whether anyone has a file open for writing: a read
lease (``F_SETLEASE``) is refused with EAGAIN exactly then, and while we hold it a writer's ``open``
waits for us. So a file is read under a read lease, and a file someone is writing is reported as
``being written`` (the caller keeps its last version and tries again). A lease needs the file to be
ours (or CAP_LEASE) and a file system that supports it; where it cannot be taken (a ConfigMap volume
the kubelet owns, which it only ever swaps in whole) the caller's two-reads-agree rule is what is left.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import stat
from dataclasses import dataclass
from pathlib import Path

from webhook.bounded_yaml import FILE_LIMITS

MAX_FILE_BYTES = FILE_LIMITS.text_bytes
# The kernel signals a lease holder when a writer wants the file. SIGIO, the default, would kill the
# process; SIGURG is ignored by default and nothing here handles it.
_LEASE_SIGNAL = signal.SIGURG
_NO_LEASE = {errno.EACCES, errno.EPERM, errno.EINVAL, errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP}


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A file that could not be used this time; ``being_written``: try again, keep what we had."""

    message: str
    being_written: bool = False


def read_template_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str | Unreadable | None:
    """The file's text, why it cannot be used, or None when it no longer exists."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Unreadable(f"cannot be opened: {exc.strerror}")
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return Unreadable(f"not a regular file ({_kind(status.st_mode)}); only regular files are read")
        if status.st_size > max_bytes:
            return Unreadable(f"larger than {max_bytes // 1024 // 1024} MiB")
        leased = _take_read_lease(fd)
        if leased is None:
            return Unreadable("open for writing by another process; read once the writer closes it", True)
        try:
            data = _read_at_most(fd, max_bytes + 1)
        finally:
            if leased:
                fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
    except OSError as exc:
        return Unreadable(f"cannot be read: {exc.strerror}")
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        return Unreadable(f"larger than {max_bytes // 1024 // 1024} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Unreadable(f"not UTF-8 text: {exc.reason} at byte {exc.start}")


def _take_read_lease(fd: int) -> bool | None:
    """True: leased (release it); False: leases unavailable here; None: someone has it open to write."""
    if not hasattr(fcntl, "F_SETLEASE"):  # not Linux
        return False
    try:
        fcntl.fcntl(fd, fcntl.F_SETSIG, _LEASE_SIGNAL)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EBUSY):
            return None
        if exc.errno in _NO_LEASE:
            return False
        raise
    return True


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(1024 * 1024, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a character device"}
    kinds |= {stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"}
    return next((name for test, name in kinds.items() if test(mode)), "not a file")
