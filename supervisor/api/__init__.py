"""The station's ZeroMQ API (docs/wire.md, docs/commands.md)."""

from supervisor.api.server import ApiServer

__all__ = ["ApiServer"]
