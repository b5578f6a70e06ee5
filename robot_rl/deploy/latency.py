"""Measure state-in -> command-out round trips against another process (the echo or a policy node).

The driver plays the robot: at a fixed rate it publishes one JointState and waits for the one
command it answers with; the time between ``write`` and the reply's listener callback is the
round trip (both ends on this machine's monotonic clock, so no clock sync is needed). The
intervals between successive replies, compared with the period, give the control-period
jitter the robot would see.

States carry header stamps spaced by ``stamp_period_s``: a policy node paces itself by the
stamps of the states it receives (see ``policy_node``), so a 50 Hz policy can be driven at
500 Hz wall-clock rate for a latency measurement without changing its contract.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass

import numpy as np

from robot_rl.deploy.ros2_msgs import Float64MultiArray, Header, JointState, time_from_ns
from robot_rl.deploy.transport import Transport


@dataclass
class RoundTripStats:
    rate_hz: float
    sent: int
    received: int
    late: int  # replies slower than one period
    p50_ms: float
    p99_ms: float
    max_ms: float
    period_jitter_p50_ms: float  # |interval between replies - period|
    period_jitter_p99_ms: float

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


class RoundTripDriver:
    """Publishes states, matches each with the next command that comes back."""

    def __init__(self, transport: Transport, state_topic: str, command_topic: str, joint_names: list[str]) -> None:
        self._publisher = transport.publisher(state_topic, JointState)
        self._names = list(joint_names)
        self._reply = threading.Event()
        self._reply_ns = 0
        transport.subscribe(command_topic, Float64MultiArray, self._on_command)

    def _on_command(self, _msg: Float64MultiArray) -> None:
        self._reply_ns = time.perf_counter_ns()
        self._reply.set()

    def _state(self, i: int, stamp_ns: int) -> JointState:
        # A slow, in-limits motion so a policy computes on changing inputs.
        q = [0.1 * math.sin(0.01 * i + k) for k in range(len(self._names))]
        qd = [0.1 * math.cos(0.01 * i + k) for k in range(len(self._names))]
        return JointState(
            header=Header(stamp=time_from_ns(stamp_ns)), name=self._names, position=q, velocity=qd, effort=[]
        )

    def wait_connected(self, timeout_s: float = 10.0) -> bool:
        """Send states until one is answered (discovery and matching take a few hundred ms)."""
        end = time.monotonic() + timeout_s
        i = 0
        while time.monotonic() < end:
            self._reply.clear()
            self._publisher.publish(self._state(i, 1_000_000_000 + i * 100_000_000))
            i += 1
            if self._reply.wait(0.1):
                time.sleep(0.2)  # let stragglers of the warm-up arrive before measuring
                return True
        return False

    def run(
        self,
        rate_hz: float,
        n: int,
        stamp_period_s: float | None = None,
        start_stamp_ns: int = 10**12,
        reply_timeout_s: float = 0.05,
    ) -> RoundTripStats:
        """Send `n` states at `rate_hz`, each waiting for its reply (up to `reply_timeout_s`).

        A reply slower than the period delays the next state rather than being confused with
        the next state's reply; the schedule then resumes on the next whole tick.
        """
        period = 1.0 / rate_hz
        stamp_step = int(round((stamp_period_s or period) * 1e9))
        latencies: list[float] = []
        replies: list[int] = []
        late = 0
        next_tick = time.perf_counter() + period
        for i in range(n):
            delay = next_tick - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            msg = self._state(i, start_stamp_ns + i * stamp_step)
            self._reply.clear()
            t0 = time.perf_counter_ns()
            self._publisher.publish(msg)
            if self._reply.wait(reply_timeout_s):
                latencies.append((self._reply_ns - t0) / 1e6)
                replies.append(self._reply_ns)
                late += latencies[-1] > period * 1e3
            next_tick += period
            if next_tick < time.perf_counter():  # overran: skip to the next whole tick
                next_tick += period * math.ceil((time.perf_counter() - next_tick) / period)
        lat = np.asarray(latencies) if latencies else np.asarray([math.nan])
        intervals = np.diff(np.asarray(replies, dtype=np.float64)) / 1e6
        jitter = np.abs(intervals - period * 1e3) if intervals.size else np.asarray([math.nan])
        return RoundTripStats(
            rate_hz=rate_hz,
            sent=n,
            received=len(latencies),
            late=late,
            p50_ms=float(np.percentile(lat, 50)),
            p99_ms=float(np.percentile(lat, 99)),
            max_ms=float(lat.max()),
            period_jitter_p50_ms=float(np.percentile(jitter, 50)),
            period_jitter_p99_ms=float(np.percentile(jitter, 99)),
        )
