"""The station's ZeroMQ API (spec/wire.md)."""

from supervisor.api.server import ApiServer

__all__ = ["ApiServer"]
