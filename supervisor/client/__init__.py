"""The Python client of the station's API and `evsectl`, the operator's command line."""

from supervisor.client import reference
from supervisor.client.client import ApiError, Client, rfc3339
from supervisor.client.watch import Sequencer, Watch, source_of

__all__ = ["ApiError", "Client", "Sequencer", "Watch", "reference", "rfc3339", "source_of"]
