"""Pole balance and swing-up on any cart-pole: a slider, then a passive hinge, one force actuator on the slider.

dm_control-style smooth rewards in [0, 1] per step. Angle convention: hinge = 0 with the pole upright.
Both tasks end early if the cart comes within `RAIL_MARGIN` of the end of its rail (the slider's
position limits), which also voids success. The shipped cart-pole runs them as CartpoleBalance-v0 and
CartpoleSwingup-v0 (sim/tasks/registry.py's alias table).

Each formula is written once, over a math namespace `xp`: numpy on columns for a batch, or
`_Scalar` on Python floats for one robot. The single env is the episode core at N=1, and there a
ufunc on a 1-element array costs as much as ~20 float operations: the float path keeps the single
env's step cheap without a second copy of the task.

This module is the whole task: its specs, its observation interface and its logic (numpy only).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from sim.state import RobotState
from sim.tasks.interface import ObsField, TaskInterface
from sim.tasks.logic import TaskLogic
from sim.tasks.spec import TaskSpec

if TYPE_CHECKING:
    from sim.robot import RobotSpec

RAIL_MARGIN = 0.02  # m: an episode ends this far before the rail's hard stop
EPISODE_S = 5.0
KIND = "a cart-pole: a slider (prismatic joint) with position limits, then a hinge (revolute or continuous), " \
       "one force actuator on the slider, no floating base"


def fits(robot: RobotSpec) -> str | None:
    """None for a cart-pole (see KIND); else what the robot has instead."""
    if robot.base is not None:
        return "has a floating base"
    types = [j.type for j in robot.joints]
    if len(types) != 2 or types[0] != "prismatic" or types[1] not in ("revolute", "continuous"):
        return f"has joints of types {types}"
    if robot.joints[0].position_limits is None:
        return f"has no position limits on its slider '{robot.joints[0].name}' (the rail's ends)"
    acts = [(a.joint, a.type) for a in robot.actuators]
    if acts != [(robot.joints[0].name, "force")]:
        return f"has actuators (joint, type) {acts}"
    return None


def configure(spec: TaskSpec, robot: RobotSpec) -> TaskSpec:
    """The spec for `robot`: an episode of EPISODE_S at its control rate (250 steps at 50 Hz)."""
    return replace(spec, episode_steps=int(round(EPISODE_S * robot.control_hz)))


def rail_stop(robot: RobotSpec) -> float:
    """|x| (m) at which an episode ends: RAIL_MARGIN before the nearer end of the slider's limits."""
    lo, hi = robot.joints[0].position_limits
    return min(-lo, hi) - RAIL_MARGIN


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


def _smooth_reward(xp, x, theta, theta_dot, u, rail):
    upright = (xp.cos(theta) + 1.0) / 2.0
    centered = 1.0 - 0.5 * xp.minimum((x / rail) ** 2, 1.0)
    small_control = (4.0 + (1.0 - xp.minimum(u**2, 1.0))) / 5.0
    small_velocity = (1.0 + xp.exp(-0.1 * theta_dot**2)) / 2.0
    return upright * centered * small_control * small_velocity


def _tilt(xp, theta):
    """|pole angle from upright| in [0, pi]."""
    return xp.abs(xp.arctan2(xp.sin(theta), xp.cos(theta)))


class PoleSwingup(TaskLogic):
    """Start hanging down; success = pole within 12 deg of upright over the last quarter, no rail stop."""

    success_angle = float(np.deg2rad(12.0))

    def __init__(self, robot: RobotSpec, interface: TaskInterface, spec: TaskSpec):
        super().__init__(robot, interface, spec)
        self.rail = rail_stop(robot)

    def initial_state(self, rng: np.random.Generator, n: int):
        """Hanging down (pi) with a uniform +-0.02 (m, rad) offset: (0 + offset, offset + pi), the same floats."""
        q = rng.uniform(-1, 1, (n, 2)) * 0.02
        q[:, 1] += np.pi
        return q, np.zeros((n, 2)), np.zeros((n, 0))

    def reward_terms(self, state: RobotState, action, last_action, command):
        xp, x, theta, theta_dot = _columns(state)
        u = action.item(0) if xp is _Scalar else action[:, 0]
        return {"smooth": _smooth_reward(xp, x, theta, theta_dot, u, self.rail)}  # a float for one robot

    def terminated(self, state: RobotState) -> np.ndarray | bool:
        """(n,) bools; one robot's bool for one robot (the episode core takes either)."""
        xp, x, _, _ = _columns(state)
        return xp.abs(x) >= self.rail

    def success_update(self, ok, state, command, step, terminated) -> None:
        xp, _, theta, _ = _columns(state)
        if xp is _Scalar:  # `terminated` is this class's bool for one robot
            step = step.item(0)
        late_and_tilted = (step > self.episode_steps * 3 // 4) & (_tilt(xp, theta) > self.success_angle)
        _fail_where(ok, terminated | late_and_tilted)


class PoleBalance(PoleSwingup):
    """Start near upright; the episode ends (failed) when the pole tips past 0.4 rad."""

    fall_angle = 0.4

    def initial_state(self, rng: np.random.Generator, n: int):
        q = rng.uniform(-1, 1, (n, 2)) * np.array([0.05, 0.05])
        return q, np.zeros((n, 2)), np.zeros((n, 0))

    def terminated(self, state: RobotState) -> np.ndarray | bool:
        xp, x, theta, _ = _columns(state)
        return (xp.abs(x) >= self.rail) | (_tilt(xp, theta) > self.fall_angle)

    def success_update(self, ok, state, command, step, terminated) -> None:
        _fail_where(ok, terminated)


# -- observation ----------------------------------------------------------------------------------------

_FLOAT32 = np.dtype(np.float32)  # a dtype object: np.array(..., np.float32) spends ~0.1 us resolving the type


def _obs(state: RobotState, last_action: np.ndarray, command: np.ndarray) -> np.ndarray:
    q, qd = state.q, state.qd
    if q.size == 2:  # one robot (the single env, the runtime): float math, ~10x cheaper than 1-element ufuncs
        (x, theta), (x_dot, theta_dot) = q.ravel().tolist(), qd.ravel().tolist()
        row = [x, math.cos(theta), math.sin(theta), x_dot, theta_dot, last_action.item(0)]
        return np.array(row, _FLOAT32, ndmin=q.ndim)
    # Columns cast into the float32 result as they are computed (what stacking in float64 and casting gave),
    # without the float64 stack: a vector env observes twice a step.
    out = np.empty(q.shape[:-1] + (6,), _FLOAT32)
    out[..., 0], out[..., 1], out[..., 2] = q[..., 0], np.cos(q[..., 1]), np.sin(q[..., 1])
    out[..., 3], out[..., 4], out[..., 5] = qd[..., 0], qd[..., 1], last_action[..., 0]
    return out


def interface(task: str, robot: RobotSpec) -> TaskInterface:
    """Cart position, pole angle as cos/sin, both velocities, last action; the action is the slider's force."""
    slider, hinge = robot.joint_names
    layout = (
        ObsField(f"{slider}.position", 1, "m", "cart position on the rail, 0 at the centre"),
        ObsField(f"{hinge}.cos", 1, "1", "cos of the pole angle (1 = upright)"),
        ObsField(f"{hinge}.sin", 1, "1", "sin of the pole angle (positive = tipped towards +x)"),
        ObsField(f"{slider}.velocity", 1, "m/s", "cart velocity"),
        ObsField(f"{hinge}.velocity", 1, "rad/s", "pole angular velocity"),
        ObsField("last_action", 1, "1", "previous policy action in [-1, 1]"),
    )
    effort = np.array([robot.actuators[0].effort_limit])
    return TaskInterface(task, robot.name, robot.joint_names, layout, 0, np.zeros(1), effort, _obs)


# -- the tasks ------------------------------------------------------------------------------------------

BALANCE = TaskSpec("PoleBalance-v0", KIND, interface, PoleBalance, int(round(EPISODE_S * 50)), {"smooth": 1.0},
                   "no rail stop and the pole never past 0.4 rad in 5 s", fits=fits, configure=configure)
SWINGUP = TaskSpec("PoleSwingup-v0", KIND, interface, PoleSwingup, int(round(EPISODE_S * 50)), {"smooth": 1.0},
                   "pole within 12 deg of upright over the last quarter of 5 s, no rail stop", fits=fits,
                   configure=configure)
SPECS = (BALANCE, SWINGUP)
