"""How a long-running deploy process is stopped: SIGTERM and SIGINT, whatever its parent set.

SIGINT is how Ctrl-C and ``ros2 launch`` stop a node (launch sends SIGINT first, SIGTERM later).
A process started in the background by a shell (``robot-rl sim-robot &``) inherits SIGINT
*ignored*, and Python keeps an inherited ``SIG_IGN``: such a node, simulator or recorder would run
on after Ctrl-C, a node still commanding the robot, a recorder never closing its bag. So every
long-running process (`robot-rl deploy`, `excite --publish`, `sim-robot`, `record`, the echo) takes both signals here,
in one place, and leaves through its own ``finally`` (safe action, closed bag, no more states).
"""

from __future__ import annotations

import signal
from collections.abc import Callable


def handle_stop_signals(on_sigterm: Callable[[], None]) -> None:
    """SIGTERM calls `on_sigterm` (make the spin return; it must be safe in a signal handler: set an
    event, no locks); SIGINT raises KeyboardInterrupt in the main thread, even when the parent
    started this process with SIGINT ignored.

    Call it from the main thread (Python allows signal handlers nowhere else), once the transport
    that `on_sigterm` stops exists.
    """
    signal.signal(signal.SIGTERM, lambda *_: on_sigterm())
    signal.signal(signal.SIGINT, signal.default_int_handler)
