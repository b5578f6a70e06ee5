"""The Engine protocol: what a task needs from a physics engine, and nothing more."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from sim.robot import RobotSpec


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

    def reset(self, q: np.ndarray, qd: np.ndarray) -> None:
        """Put the robot in a joint state, time 0, with no pending delayed commands."""

    def step(self, command: np.ndarray) -> None:
        """Apply `command` for one control step."""

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """(positions, velocities) in robot.yaml joint order."""

    def link_position(self, link: str) -> np.ndarray:
        """World position of a link frame (e.g. the end effector)."""

    def close(self) -> None:
        """Release native resources."""

    @property
    def time(self) -> float: ...
