"""Send MuJoCo's warning log into the run folder instead of the working directory.

MuJoCo writes each warning (an unstable simulation: "Nan, Inf or huge value in QACC", too many
contacts, ...) to ``MUJOCO_LOG.TXT`` in the current directory by default. A training run started
from the repository root would leave that file there, detached from the run whose physics
produced it, and several runs would mix their warnings in one file. MuJoCo 4's log configuration
(``mju_setLogConfig``) takes a file path; `mujoco_log_in` points it at the run folder for the
duration of a run and restores the previous configuration afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOG_FILE = "MUJOCO_LOG.TXT"


@contextmanager
def mujoco_log_in(folder: str | Path) -> Iterator[Path | None]:
    """Within the block, MuJoCo appends its warnings to ``folder/MUJOCO_LOG.TXT``; yields that path.

    Yields None (and changes nothing) if MuJoCo is not installed or predates the log configuration.
    The path is absolute, so a later ``chdir`` does not move the log.
    """
    try:
        import mujoco
    except ImportError:
        yield None
        return
    config_type = getattr(mujoco, "MjLogConfig", None)
    if config_type is None:
        yield None
        return
    previous = config_type.get()
    saved = previous.logfile
    path = Path(folder).resolve() / LOG_FILE
    config = config_type.get()
    config.logfile = str(path)
    config.set()
    try:
        yield path
    finally:
        previous.logfile = saved
        previous.set()
