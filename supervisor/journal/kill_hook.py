"""A test-only hook: the process SIGKILLs itself right after a decision is journaled and before
it is carried out, so that a test can show that a restart carries the outbox out once.

    EVSE_SUPERVISOR_KILL_AFTER_DECIDING=SessionFinished evse-supervisor run ...

The station dies right after the commit of an outbox that holds that session event. Unset
(always, outside such a test), it costs one comparison per journal write.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable

from actors.model import Emit

KILL_AFTER_ENV = "EVSE_SUPERVISOR_KILL_AFTER_DECIDING"
_KILL_AFTER = os.environ.get(KILL_AFTER_ENV)


def after_commit(outbox: Iterable[object] | None) -> None:
    """SIGKILL this process if `outbox`, just committed, holds the event the hook names."""
    if _KILL_AFTER is None or outbox is None:
        return
    if any(isinstance(output, Emit) and output.event.value == _KILL_AFTER for output in outbox):
        os.kill(os.getpid(), signal.SIGKILL)
