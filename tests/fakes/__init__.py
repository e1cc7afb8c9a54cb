"""Test doubles that speak real protocols over real sockets (never mocks of our own code)."""

from tests.fakes.apiserver import FakeApiServer

__all__ = ["FakeApiServer"]
