"""Refusal: the one way the admission port says no at the HTTP level, and the JSON body it answers.

    Refusal(status, reason, message)   answered {"message": …}, counted as rejected/<reason>
    ├── 400 bad-envelope               not JSON, not an AdmissionReview, a field of the wrong type
    ├── 405 method-not-allowed         /mutate with another method than POST
    ├── 413 body-too-large             a body over --max-body-bytes
    ├── 415 unsupported-media-type     not application/json
    └── 503 overloaded, expired        no room under the limits; kube-apiserver's timeout passed

The envelope parser (review.py) raises the first, the admission app (app.py) the others; the handler
counts and logs them all in one place. An object the engine refuses is not a Refusal: it gets a normal
AdmissionReview that says why (InjectionError, with its own code), and so does an internal error.
"""

from __future__ import annotations

import orjson


class Refusal(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


def error_body(message: str) -> bytes:
    return orjson.dumps({"message": message})
