"""How connections reach the admission app: sockets bound up front, worker processes sharing them,
an accept loop with a connection cap, an HTTP protocol that bounds every phase of a connection, and
the memory connections leave behind.

The one package that depends on uvicorn, and on its internals (``connection``), which is why the
declared uvicorn range is narrow and tested (``tests/unit/transport``). It sits above ``server``:
it implements the server's ``Connection`` protocol and passes the request's arrival time in the
scope, while the ASGI apps never learn which server runs them.
"""
