"""The one observation (and action) function of each task: numpy only.

Observation mismatch between simulator and robot is the classic sim-to-real bug, so the
simulator's tasks and the deploy runtime build observations with *this* code and nothing else:
from what a real robot reports (joint positions and velocities in robot.yaml order), the last
action the policy sent, and the task's command/goal. Importing this module must not import a
simulator or torch (a test checks this).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.kinematics import SerialChainFK
from sim.robot import RobotSpec

TASK_ROBOTS = {
    "CartpoleBalance-v0": "cartpole",
    "CartpoleSwingup-v0": "cartpole",
    "IiwaReach-v0": "iiwa",
}


@dataclass(frozen=True)
class ObsField:
    name: str
    size: int
    unit: str
    description: str

    def as_dict(self) -> dict:
        return {"name": self.name, "size": self.size, "unit": self.unit, "description": self.description}


@dataclass(frozen=True)
class TaskInterface:
    """What a policy for `task` reads and writes, in physical units.

    observation = build(q, qd, last_action, command), a float32 vector laid out as `layout`
    (or a batch of them: every argument may carry a leading batch dimension).
    command to the actuators = action_offset + action_scale * action, with action in [-1, 1]
    (force in N for force actuators, target position for position actuators).
    """

    task: str
    robot: str
    joint_names: tuple[str, ...]
    layout: tuple[ObsField, ...]
    command_size: int
    action_offset: np.ndarray
    action_scale: np.ndarray
    _fn: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]

    @property
    def obs_size(self) -> int:
        return sum(f.size for f in self.layout)

    @property
    def action_size(self) -> int:
        return len(self.action_scale)

    def build(self, q: np.ndarray, qd: np.ndarray, last_action: np.ndarray,
              command: np.ndarray | None = None) -> np.ndarray:
        cmd = np.zeros(self.command_size) if command is None else np.asarray(command, dtype=np.float64)
        return self._fn(np.asarray(q, np.float64), np.asarray(qd, np.float64),
                        np.asarray(last_action, np.float64), cmd).astype(np.float32)

    def action_to_command(self, action: np.ndarray) -> np.ndarray:
        return self.action_offset + self.action_scale * np.clip(action, -1.0, 1.0)

    def command_to_action(self, command: np.ndarray) -> np.ndarray:
        return (np.asarray(command) - self.action_offset) / self.action_scale

    def layout_dicts(self) -> list[dict]:
        return [f.as_dict() for f in self.layout]


def _cartpole_obs(q: np.ndarray, qd: np.ndarray, last_action: np.ndarray, command: np.ndarray) -> np.ndarray:
    return np.stack([q[..., 0], np.cos(q[..., 1]), np.sin(q[..., 1]), qd[..., 0], qd[..., 1], last_action[..., 0]],
                    axis=-1)


_CARTPOLE_LAYOUT = (
    ObsField("slider.position", 1, "m", "cart position on the rail, 0 at the centre"),
    ObsField("hinge.cos", 1, "1", "cos of the pole angle (1 = upright)"),
    ObsField("hinge.sin", 1, "1", "sin of the pole angle (positive = tipped towards +x)"),
    ObsField("slider.velocity", 1, "m/s", "cart velocity"),
    ObsField("hinge.velocity", 1, "rad/s", "pole angular velocity"),
    ObsField("last_action", 1, "1", "previous policy action in [-1, 1]"),
)


def _cartpole(task: str, robot: RobotSpec) -> TaskInterface:
    effort = np.array([robot.actuators[0].effort_limit])
    return TaskInterface(task, robot.name, robot.joint_names, _CARTPOLE_LAYOUT, 0, np.zeros(1), effort,
                         _cartpole_obs)


def _iiwa_reach(task: str, robot: RobotSpec) -> TaskInterface:
    fk = SerialChainFK(robot.urdf, robot.joint_names, robot.end_effector)
    n = len(robot.joints)
    lo = np.array([j.position_limits[0] for j in robot.joints])
    hi = np.array([j.position_limits[1] for j in robot.joints])
    # Targets span the central 90% of each joint's range, so the policy cannot ask for a limit.
    offset, scale = (lo + hi) / 2, 0.45 * (hi - lo)

    def obs(q: np.ndarray, qd: np.ndarray, last_action: np.ndarray, command: np.ndarray) -> np.ndarray:
        ee = fk.position(q) if q.ndim == 1 else fk.positions(q)
        return np.concatenate([q, 0.1 * qd, last_action, command, ee, command - ee], axis=-1)

    layout = (
        ObsField("joint.position", n, "rad", "joint positions in robot.yaml order"),
        ObsField("joint.velocity_scaled", n, "0.1 rad/s", "joint velocities times 0.1"),
        ObsField("last_action", n, "1", "previous policy action in [-1, 1]"),
        ObsField("goal.position", 3, "m", "goal position of the end effector in the base frame"),
        ObsField("ee.position", 3, "m", f"position of {robot.end_effector} (URDF forward kinematics)"),
        ObsField("goal.error", 3, "m", "goal minus end-effector position"),
    )
    return TaskInterface(task, robot.name, robot.joint_names, layout, 3, offset, scale, obs)


_BUILDERS = {"CartpoleBalance-v0": _cartpole, "CartpoleSwingup-v0": _cartpole, "IiwaReach-v0": _iiwa_reach}


def task_interface(task: str, robot: RobotSpec | None = None) -> TaskInterface:
    """The observation/action contract of `task` for `robot` (default: the task's own robot)."""
    task = task.removeprefix("robot_rl/")
    if task not in _BUILDERS:
        raise KeyError(f"unknown task '{task}'; tasks: {', '.join(_BUILDERS)}")
    if robot is None:
        from sim.robot import load_robot

        robot = load_robot(TASK_ROBOTS[task])
    return _BUILDERS[task](task, robot)
