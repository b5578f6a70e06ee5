"""Pieces of a log ready to replay: measured states, commands and an initial state.

Identification replays the *logged* commands open loop from each segment's initial state and
compares the simulated joint states with the measured ones. Two details decide whether that
comparison is fair, and both live here:

- the initial state is estimated from the first 0.1 s (a local quadratic fit of positions and a
  linear fit of velocities), not taken from one noisy sample: a pendulum remembers an initial
  error for its whole, lightly damped, swing;
- `action_delay` shifts the commands by the one delay rule of training's engines, in its
  whole-log form `sim.actuators.delayed_command`: a command issued at t acts from t + delay. Each
  physics step receives the *average* of the delayed zero-order-hold command over that step, which
  equals the engines' substep-quantized delay whenever the delay is a whole number of substeps and,
  unlike it, varies continuously with the delay, so a finite-difference Jacobian sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.log import RobotLog

INITIAL_WINDOW_S = 0.1
CENTERED_HALF_S = 0.05  # s either side of a window's start (`estimate_state_at`)


@dataclass
class Segment:
    """One gap-free stretch of a log, times relative to its first joint state."""

    t: np.ndarray  # (N,) measured times, t[0] == 0
    q: np.ndarray  # (N, J)
    qd: np.ndarray  # (N, J)
    cmd_t: np.ndarray  # (M,) command times (may be negative: commands issued before the segment)
    cmd: np.ndarray  # (M, U)
    q0: np.ndarray  # (J,) estimated initial positions
    qd0: np.ndarray  # (J,) estimated initial velocities
    offset: float  # start time of the segment in the log (s)

    @property
    def duration(self) -> float:
        return float(self.t[-1])


def estimate_initial_state(t: np.ndarray, q: np.ndarray, qd: np.ndarray,
                           window: float = INITIAL_WINDOW_S) -> tuple[np.ndarray, np.ndarray]:
    """Initial (q, qd) from local fits over the first `window` seconds (noise averages out)."""
    n = int(np.searchsorted(t, t[0] + window, side="right"))
    if n < 4:
        return q[0].copy(), qd[0].copy()
    tt = t[:n] - t[0]
    q0 = np.array([np.polyval(np.polyfit(tt, q[:n, j], 2), 0.0) for j in range(q.shape[1])])
    qd0 = np.array([np.polyval(np.polyfit(tt, qd[:n, j], 1), 0.0) for j in range(q.shape[1])])
    return q0, qd0


def make_segment(log: RobotLog) -> Segment:
    """A `Segment` from a gap-free log (see `calibration.log.split_at_gaps`)."""
    t0 = float(log.t[0])
    t = log.t - t0
    q0, qd0 = estimate_initial_state(t, log.q, log.qd)
    return Segment(t=t, q=log.q, qd=log.qd, cmd_t=log.command_t - t0, cmd=log.command, q0=q0, qd0=qd0, offset=t0)


def estimate_state_at(t: np.ndarray, q: np.ndarray, qd: np.ndarray, at: float,
                      half_width: float = CENTERED_HALF_S) -> tuple[np.ndarray, np.ndarray] | None:
    """(q, qd) at time `at` from local quadratic fits over the samples within `half_width` on both sides,
    or None without samples on both sides (at least 4 in all).

    Centred, so no extrapolation: `estimate_initial_state`'s one-sided linear velocity fit is off by
    about a third of the window times the acceleration's change, which reads like a shift in time,
    and a fit of short windows from such starts took it for the delay (-9% on the cart-pole demo).
    """
    k = np.abs(t - at) <= half_width + 1e-9
    if np.count_nonzero(k) < 4 or not (np.any(t[k] < at - 1e-9) and np.any(t[k] > at + 1e-9)):
        return None
    tt = t[k] - at
    q0 = np.array([np.polyval(np.polyfit(tt, q[k, j], 2), 0.0) for j in range(q.shape[1])])
    qd0 = np.array([np.polyval(np.polyfit(tt, qd[k, j], 2), 0.0) for j in range(q.shape[1])])
    return q0, qd0


def windows(seg: Segment, length: float) -> list[Segment]:
    """`seg` cut into consecutive pieces of about `length` seconds (at least one), each with its own
    initial-state estimate and every command of the segment (those issued before a piece's start are
    still in flight across it, exactly as in the whole replay). Neighbours share their boundary sample.

    For the fit's coarse stage (`calibration.fit.coarse_start`): an open-loop replay of a short piece
    cannot drift far from the measurement whatever the parameters, so its cost has one wide basin
    where a 15 s replay of a lightly damped pendulum has many (one per cycle of phase error). A piece
    inside the segment starts from the state estimated centred on its start (`estimate_state_at`):
    the samples before it are in the log.
    """
    count = max(1, int(seg.duration / length + 1e-9))
    edges = np.linspace(0.0, seg.duration, count + 1)
    out = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        keep = (seg.t >= a - 1e-9) & (seg.t <= b + 1e-9)
        t = seg.t[keep]
        t0 = float(t[0])
        centred = estimate_state_at(seg.t, seg.q, seg.qd, t0)
        q0, qd0 = centred if centred is not None else estimate_initial_state(t - t0, seg.q[keep], seg.qd[keep])
        out.append(Segment(t=t - t0, q=seg.q[keep], qd=seg.qd[keep], cmd_t=seg.cmd_t - t0, cmd=seg.cmd,
                           q0=q0, qd0=qd0, offset=seg.offset + t0))
    return out
