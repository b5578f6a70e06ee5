"""The Engine protocol: what a task needs from a physics engine, and nothing more."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from sim.errors import ConfigError
from sim.robot import RobotSpec
from sim.state import BaseState, RobotState, quat_multiply


class Engine(Protocol):
    """One simulated robot.

    Commands are physical (N, N*m, or target rad/m) in robot.yaml actuator order; states are in
    robot.yaml joint order. `step` advances one control step (robot.substeps physics steps) with
    the actuator model and action delay realized by the engine.
    """

    robot: RobotSpec
    params: dict[str, float]

    def set_params(self, params: dict[str, float]) -> None:
        """Change physical parameters between episodes (absolute values, full vocabulary)."""

    def reset(self, q: np.ndarray, qd: np.ndarray, base: BaseState | None = None) -> None:
        """Put the robot in a joint state (and a floating base in `base`, default: at rest at its
        robot.yaml height), time 0, with no pending delayed commands."""

    def step(self, command: np.ndarray) -> None:
        """Apply `command` for one control step."""

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """(positions, velocities) in robot.yaml joint order."""

    def state(self) -> RobotState:
        """Everything the robot reports: joints and efforts; for a floating robot base, IMU, foot forces."""

    def run_substeps(self, command: np.ndarray, n: int) -> None:
        """Hold a command for n physics substeps, bypassing the delay (the episode core realizes it)."""

    def link_position(self, link: str) -> np.ndarray:
        """World position of a link frame (e.g. the end effector)."""

    def close(self) -> None:
        """Release native resources."""

    @property
    def time(self) -> float: ...


def fixed_offset_quat(robot: RobotSpec, link: str) -> np.ndarray:
    """Orientation (w, x, y, z) of `link` in the base frame, through the fixed joints between them."""
    by_child = {j.child: j for j in robot.urdf.joints.values()}
    quat = np.array([1.0, 0.0, 0.0, 0.0])
    while link != robot.base.link:
        joint = by_child[link]
        if joint.type != "fixed":
            raise ConfigError(str(robot.yaml_path), "imu.link", f"'{link}' moves relative to the base (joint "
                              f"'{joint.name}' is {joint.type}); mount the IMU on the base or a fixed child of it")
        r, p, y = joint.origin_rpy
        cr, sr, cp, sp, cy, sy = (np.cos(r / 2), np.sin(r / 2), np.cos(p / 2), np.sin(p / 2), np.cos(y / 2),
                                  np.sin(y / 2))
        q_joint = np.array([cr * cp * cy + sr * sp * sy, sr * cp * cy - cr * sp * sy, cr * sp * cy + sr * cp * sy,
                            cr * cp * sy - sr * sp * cy])
        quat = quat_multiply(q_joint, quat)
        link = joint.parent
    return quat
