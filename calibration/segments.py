"""Pieces of a log ready to replay: measured states, commands, an initial state, and delayed commands.

Identification replays the *logged* commands open loop from each segment's initial state and
compares the simulated joint states with the measured ones. Two details decide whether that
comparison is fair, and both live here:

- the initial state is estimated from the first 0.1 s (a local quadratic fit of positions and a
  linear fit of velocities), not taken from one noisy sample: a pendulum remembers an initial
  error for its whole, lightly damped, swing;
- `action_delay` shifts the commands, exactly as `sim.actuators.DelayLine` does in both engines:
  a command issued at t acts from t + delay. Each physics step receives the *average* of the
  delayed zero-order-hold command over that step, which equals the engines' substep-quantized
  delay whenever the delay is a whole number of substeps and, unlike it, varies continuously with
  the delay, so a finite-difference Jacobian sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.log import RobotLog

INITIAL_WINDOW_S = 0.1


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


def delayed_command(cmd_t: np.ndarray, cmd: np.ndarray, step_start: np.ndarray, dt: float,
                    delay: float) -> np.ndarray:
    """Average over [s, s + dt) of the ZOH command delayed by `delay`, for each step start s.

    Zero before the first command. Exact integration of the piecewise-constant signal through its
    piecewise-linear integral, so the result is continuous (piecewise linear) in `delay`.
    """
    span = float(step_start[-1] - cmd_t[0]) + dt + abs(delay) + 1.0
    knots = np.concatenate([[cmd_t[0] - span], cmd_t, [cmd_t[-1] + span]])
    widths = np.diff(cmd_t)
    integral = np.zeros((len(knots), cmd.shape[1]))
    integral[2:-1] = np.cumsum(cmd[:-1] * widths[:, None], axis=0)
    integral[-1] = integral[-2] + cmd[-1] * span
    a = step_start - delay
    out = np.empty((len(step_start), cmd.shape[1]))
    for u in range(cmd.shape[1]):
        hi = np.interp(a + dt, knots, integral[:, u])
        lo = np.interp(a, knots, integral[:, u])
        out[:, u] = (hi - lo) / dt
    return out
