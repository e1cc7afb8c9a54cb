"""Test doubles that speak real protocols over real sockets (never mocks of our own code)."""

from tests.fakes.apiserver import FakeApiServer
from tests.fakes.faults import Fault
from tests.fakes.recording import RecordedRequest
from tests.fakes.status import ApiError

__all__ = ["ApiError", "FakeApiServer", "Fault", "RecordedRequest"]
