"""Start deploy processes on an isolated DDS domain on loopback (tests, benchmarks, demos).

Two processes on one machine talk over real DDS through the loopback interface. Giving every
test its own ``ROS_DOMAIN_ID`` keeps concurrent runs (and any ROS 2 on the network) apart, and
a ``CYCLONEDDS_URI`` restricted to ``lo`` with unicast discovery to 127.0.0.1 keeps the traffic
off real interfaces and works where multicast does not.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

LOOPBACK_CYCLONEDDS_URI = (
    '<CycloneDDS><Domain><General><Interfaces><NetworkInterface name="lo" multicast="false"/></Interfaces>'
    "<AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex>"
    '<MaxAutoParticipantIndex>20</MaxAutoParticipantIndex><Peers><Peer address="127.0.0.1"/></Peers>'
    "</Discovery></Domain></CycloneDDS>"
)


def pick_domain_id() -> int:
    """A domain id unlikely to be in use by a concurrent run (ROS allows 0..232; we keep 0..19 free)."""
    return random.Random(os.getpid() ^ time.monotonic_ns()).randint(20, 230)


def dds_env(domain_id: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a child process on `domain_id`, loopback only, importing this checkout."""
    env = dict(os.environ if base is None else base)
    env["ROS_DOMAIN_ID"] = str(domain_id)
    env["CYCLONEDDS_URI"] = LOOPBACK_CYCLONEDDS_URI
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def spawn(args: Sequence[str], env: dict[str, str], log_path: Path | None = None) -> subprocess.Popen:
    """Start ``python <args>`` with this interpreter; output to `log_path` (or inherited)."""
    if log_path is None:
        return subprocess.Popen([sys.executable, *args], env=env, start_new_session=True)
    with open(log_path, "w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(proc: subprocess.Popen, timeout_s: float = 5.0) -> int:
    """SIGTERM, then SIGKILL after `timeout_s`; returns the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)
    return proc.returncode
