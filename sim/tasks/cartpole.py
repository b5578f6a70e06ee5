"""Cart-pole balance and swing-up (dm_control-style smooth rewards in [0, 1] per step).

Angle convention: hinge = 0 with the pole upright. Both tasks end early if the cart reaches the
end of its rail (|x| >= 0.78 m, 2 cm before the hard stop), which also voids success.

Each formula is written once, over a math namespace `xp`: numpy on columns for a batch, or
`_Scalar` on Python floats for one robot. The single env is the episode core at N=1, and there a
ufunc on a 1-element array costs as much as ~20 float operations: the float path keeps the single
env's step cheap without a second copy of the task.
"""

from __future__ import annotations

import math

import numpy as np

from sim.state import RobotState
from sim.tasks.logic import TaskLogic

RAIL_STOP = 0.78  # m


class _Scalar:
    """numpy's names for the functions the formulas below use, on Python floats."""

    cos, sin, exp, arctan2, abs, minimum = math.cos, math.sin, math.exp, math.atan2, abs, min


def _columns(state: RobotState):
    """(xp, x, theta, theta_dot): floats and `_Scalar` for one robot, else columns and numpy."""
    q, qd = state.q, state.qd
    if len(q) == 1:
        x, theta = q.item(0), q.item(1)
        return _Scalar, x, theta, qd.item(1)
    return np, q[:, 0], q[:, 1], qd[:, 1]


def _fail_where(ok: np.ndarray, failed) -> None:
    """ok &= ~failed, for an (n,) bool array or one robot's bool (an element write, not a ufunc)."""
    if isinstance(failed, np.ndarray):
        ok &= ~failed
    elif failed:
        ok[0] = False


def _smooth_reward(xp, x, theta, theta_dot, u):
    upright = (xp.cos(theta) + 1.0) / 2.0
    centered = 1.0 - 0.5 * xp.minimum((x / RAIL_STOP) ** 2, 1.0)
    small_control = (4.0 + (1.0 - xp.minimum(u**2, 1.0))) / 5.0
    small_velocity = (1.0 + xp.exp(-0.1 * theta_dot**2)) / 2.0
    return upright * centered * small_control * small_velocity


def _tilt(xp, theta):
    """|pole angle from upright| in [0, pi]."""
    return xp.abs(xp.arctan2(xp.sin(theta), xp.cos(theta)))


class CartpoleSwingup(TaskLogic):
    """Start hanging down; success = pole within 12 deg of upright over the last quarter, no rail stop."""

    success_angle = float(np.deg2rad(12.0))

    def initial_state(self, rng: np.random.Generator, n: int):
        """Hanging down (pi) with a uniform +-0.02 (m, rad) offset: (0 + offset, offset + pi), the same floats."""
        q = rng.uniform(-1, 1, (n, 2)) * 0.02
        q[:, 1] += np.pi
        return q, np.zeros((n, 2)), np.zeros((n, 0))

    def reward_terms(self, state: RobotState, action, last_action, command):
        xp, x, theta, theta_dot = _columns(state)
        u = action.item(0) if xp is _Scalar else action[:, 0]
        return {"smooth": _smooth_reward(xp, x, theta, theta_dot, u)}  # a float for one robot

    def terminated(self, state: RobotState) -> np.ndarray | bool:
        """(n,) bools; one robot's bool for one robot (the episode core takes either)."""
        xp, x, _, _ = _columns(state)
        return xp.abs(x) >= RAIL_STOP

    def success_update(self, ok, state, command, step, terminated) -> None:
        xp, _, theta, _ = _columns(state)
        if xp is _Scalar:  # `terminated` is this class's bool for one robot
            step = step.item(0)
        late_and_tilted = (step > self.episode_steps * 3 // 4) & (_tilt(xp, theta) > self.success_angle)
        _fail_where(ok, terminated | late_and_tilted)


class CartpoleBalance(CartpoleSwingup):
    """Start near upright; the episode ends (failed) when the pole tips past 0.4 rad."""

    fall_angle = 0.4

    def initial_state(self, rng: np.random.Generator, n: int):
        q = rng.uniform(-1, 1, (n, 2)) * np.array([0.05, 0.05])
        return q, np.zeros((n, 2)), np.zeros((n, 0))

    def terminated(self, state: RobotState) -> np.ndarray | bool:
        xp, x, theta, _ = _columns(state)
        return (xp.abs(x) >= RAIL_STOP) | (_tilt(xp, theta) > self.fall_angle)

    def success_update(self, ok, state, command, step, terminated) -> None:
        _fail_where(ok, terminated)
