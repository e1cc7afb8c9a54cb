"""The request cycle's transport: one write per answer."""

from __future__ import annotations

import asyncio

CONTINUE = b"HTTP/1.1 100 "


class OneRecordAnswers:
    """The request cycle's view of the transport: an answer's head is held until its body is written,
    and both go in one write. uvicorn writes them in two calls, which over TLS are two records, each
    encrypted and framed apart; one is enough for an answer sent whole.

    uvicorn's cycle writes the head before anything else of its answer; the only earlier write is
    ``100 Continue``, which goes out at once. A head still held when the answer ends without a body
    write (a HEAD request's) is written by ``flush()``, or by ``close()``. It refers to the transport
    only: a reference back to the cycle that holds it would be a cycle the rare GC frees late.
    """

    __slots__ = ("_head", "_headed", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head = b""
        self._headed = False  # the answer's head was written or is held

    def write(self, data: bytes) -> None:
        if not self._headed and not data.startswith(CONTINUE):
            self._headed, self._head = True, data
            return
        if self._head:
            data, self._head = self._head + data, b""
        self._transport.write(data)

    def flush(self) -> None:
        if self._head:
            self._transport.write(self._head)
            self._head = b""

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()
