"""`TaskInterface`: what a policy for a task on a robot reads and writes, in physical units. Numpy only.

Why its own module: every task module (sim/tasks/<task>.py) builds one, and `sim.observations` (the
entry point the deploy runtime calls) reaches the task modules through the registry; defined here, the
task modules and that entry point import it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.state import ImuState, RobotState


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
