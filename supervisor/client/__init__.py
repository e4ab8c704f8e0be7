"""The Python client of the station's API and `evsectl`, the operator's command line."""

from supervisor.client import reference
from supervisor.client.client import ApiError, Client, Sequencer, rfc3339, source_of

__all__ = ["ApiError", "Client", "Sequencer", "reference", "rfc3339", "source_of"]
