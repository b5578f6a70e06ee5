"""The one observation (and action) function of each task: numpy only.

Observation mismatch between simulator and robot is the classic sim-to-real bug, so the
simulator's tasks and the deploy runtime build observations with *this* code and nothing else:
from what a real robot reports (a `sim.state.RobotState`: joint positions and velocities in
robot.yaml order and, for a legged robot, its IMU), the last action the policy sent, and the task's
command/goal. Importing this module must not import a simulator or torch (a test checks this).
Which task uses which function is the task registry's business (sim/tasks/registry.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.kinematics import SerialChainFK
from sim.robot import RobotSpec
from sim.state import ImuState, RobotState
from sim.tasks.registry import TASK_SPECS, task_spec

TASK_ROBOTS = {t.id: t.robot for t in TASK_SPECS}  # derived from the one registry (kept for callers)


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

    observation = observe(state, last_action, command), a float32 vector laid out as `layout`
    (or a batch of them: every argument may carry a leading batch dimension);
    `build(q, qd, last_action, command, imu=...)` is the same for callers holding arrays.
    `noise` scales `obs_noise` per state channel (q, qd, and for an IMU gyro and orientation).
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
    _fn: Callable[[RobotState, np.ndarray, np.ndarray], np.ndarray]
    noise: tuple[tuple[str, float], ...] = (("q", 1.0), ("qd", 1.0))
    needs_imu: bool = False

    @property
    def obs_size(self) -> int:
        return sum(f.size for f in self.layout)

    @property
    def action_size(self) -> int:
        return len(self.action_scale)

    def build(self, q: np.ndarray, qd: np.ndarray, last_action: np.ndarray,
              command: np.ndarray | None = None, imu: ImuState | None = None) -> np.ndarray:
        """The observation from measured arrays (the deploy runtime's entry point)."""
        state = RobotState(self.joint_names, np.asarray(q, np.float64), np.asarray(qd, np.float64), imu=imu)
        return self.observe(state, last_action, command)

    def observe(self, state: RobotState, last_action: np.ndarray, command: np.ndarray | None = None) -> np.ndarray:
        """The observation from a RobotState (the simulator's entry point)."""
        if self.needs_imu and state.imu is None:
            raise ValueError(f"task '{self.task}' observes the IMU (projected gravity, angular velocity); "
                             "pass imu=ImuState(orientation, angular_velocity, linear_acceleration)")
        cmd = np.zeros(self.command_size) if command is None else np.asarray(command, dtype=np.float64)
        return self._fn(state, np.asarray(last_action, np.float64), cmd).astype(np.float32, copy=False)

    def action_to_command(self, action: np.ndarray) -> np.ndarray:
        return self.scale_action(np.minimum(np.maximum(action, -1.0), 1.0))  # = np.clip, at a third of its cost

    def scale_action(self, action: np.ndarray) -> np.ndarray:
        """The actuator command of an action already in [-1, 1] (the episode core clips once)."""
        return self.action_offset + self.action_scale * action

    def command_to_action(self, command: np.ndarray) -> np.ndarray:
        return (np.asarray(command) - self.action_offset) / self.action_scale

    def layout_dicts(self) -> list[dict]:
        return [f.as_dict() for f in self.layout]


_FLOAT32 = np.dtype(np.float32)  # a dtype object: np.array(..., np.float32) spends ~0.1 us resolving the type


def _cartpole_obs(state: RobotState, last_action: np.ndarray, command: np.ndarray) -> np.ndarray:
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


_CARTPOLE_LAYOUT = (
    ObsField("slider.position", 1, "m", "cart position on the rail, 0 at the centre"),
    ObsField("hinge.cos", 1, "1", "cos of the pole angle (1 = upright)"),
    ObsField("hinge.sin", 1, "1", "sin of the pole angle (positive = tipped towards +x)"),
    ObsField("slider.velocity", 1, "m/s", "cart velocity"),
    ObsField("hinge.velocity", 1, "rad/s", "pole angular velocity"),
    ObsField("last_action", 1, "1", "previous policy action in [-1, 1]"),
)


def cartpole_interface(task: str, robot: RobotSpec) -> TaskInterface:
    effort = np.array([robot.actuators[0].effort_limit])
    return TaskInterface(task, robot.name, robot.joint_names, _CARTPOLE_LAYOUT, 0, np.zeros(1), effort,
                         _cartpole_obs)


def iiwa_reach_interface(task: str, robot: RobotSpec) -> TaskInterface:
    fk = SerialChainFK(robot.urdf, robot.joint_names, robot.end_effector)
    n = len(robot.joints)
    lo = np.array([j.position_limits[0] for j in robot.joints])
    hi = np.array([j.position_limits[1] for j in robot.joints])
    # Targets span the central 90% of each joint's range, so the policy cannot ask for a limit.
    offset, scale = (lo + hi) / 2, 0.45 * (hi - lo)

    def obs(state: RobotState, last_action: np.ndarray, command: np.ndarray) -> np.ndarray:
        q, qd = state.q, state.qd
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


# Scales of the A1's observation (legged_gym's): joint velocities and angular rates are large numbers.
A1_QD_SCALE = 0.05
A1_GYRO_SCALE = 0.25


def legged_velocity_interface(task: str, robot: RobotSpec) -> TaskInterface:
    """Velocity tracking on a legged robot: only what the real robot reports (no base velocity).

    Actions are joint targets about the robot's default standing pose (action 0 = stand), 0.5 rad
    per unit action. The command is (forward m/s, lateral m/s, yaw rate rad/s) in the base frame.
    """
    if robot.base is None or robot.default_pose is None:
        raise ValueError(f"task '{task}' needs a floating-base robot with a default_pose; '{robot.name}' has none")
    n = len(robot.joints)
    act_j = robot.actuator_joint_indices()
    pose = np.array(robot.default_pose)
    offset = pose[act_j]

    def obs(state: RobotState, last_action: np.ndarray, command: np.ndarray) -> np.ndarray:
        imu = state.imu
        return np.concatenate([imu.projected_gravity, A1_GYRO_SCALE * imu.angular_velocity, command,
                               state.q - pose, A1_QD_SCALE * state.qd, last_action], axis=-1)

    layout = (
        ObsField("imu.projected_gravity", 3, "1", "unit gravity in the IMU frame, (0, 0, -1) when level"),
        ObsField("imu.angular_velocity_scaled", 3, "0.25 rad/s", "IMU angular velocity times 0.25"),
        ObsField("command.velocity", 3, "m/s, m/s, rad/s", "commanded forward, lateral and yaw velocity (base frame)"),
        ObsField("joint.position_offset", n, "rad", "joint positions minus the default pose, robot.yaml order"),
        ObsField("joint.velocity_scaled", n, "0.05 rad/s", "joint velocities times 0.05"),
        ObsField("last_action", len(robot.actuators), "1", "previous policy action in [-1, 1]"),
    )
    return TaskInterface(task, robot.name, robot.joint_names, layout, 3, offset, np.full(len(act_j), 0.5), obs,
                         noise=(("q", 1.0), ("qd", 10.0), ("gyro", 10.0), ("orientation", 2.0)), needs_imu=True)


def task_interface(task: str, robot: RobotSpec | None = None) -> TaskInterface:
    """The observation/action contract of `task` for `robot` (default: the task's own robot)."""
    spec = task_spec(task)
    if robot is None:
        from sim.robot import load_robot

        robot = load_robot(spec.robot)
    return globals()[spec.interface](spec.id, robot)
