"""Cart-pole balance and swing-up (dm_control-style smooth rewards in [0, 1] per step).

Angle convention: hinge = 0 with the pole upright. Both tasks end early if the cart reaches the
end of its rail (|x| >= 0.78 m, 2 cm before the hard stop), which also voids success.
"""

from __future__ import annotations

import numpy as np

from sim.observations import TaskInterface
from sim.robot import RobotSpec

RAIL_STOP = 0.78  # m


def _smooth_reward(q: np.ndarray, qd: np.ndarray, action: np.ndarray) -> np.ndarray:
    upright = (np.cos(q[:, 1]) + 1.0) / 2.0
    centered = 1.0 - 0.5 * np.minimum((q[:, 0] / RAIL_STOP) ** 2, 1.0)
    small_control = (4.0 + (1.0 - np.minimum(action[:, 0] ** 2, 1.0))) / 5.0
    small_velocity = (1.0 + np.exp(-0.1 * qd[:, 1] ** 2)) / 2.0
    return upright * centered * small_control * small_velocity


class CartpoleSwingup:
    """Start hanging down; success = pole within 12 deg of upright over the last quarter, no rail stop."""

    task_id = "CartpoleSwingup-v0"
    robot_name = "cartpole"
    episode_steps = 250  # 5 s at 50 Hz
    success_angle = np.deg2rad(12.0)

    def __init__(self, robot: RobotSpec, interface: TaskInterface):
        self.n_joints = len(robot.joints)

    def initial_state(self, rng: np.random.Generator, n: int):
        q = np.zeros((n, 2))
        q[:, 1] = np.pi
        q += rng.uniform(-1, 1, (n, 2)) * np.array([0.02, 0.02])
        return q, np.zeros((n, 2)), np.zeros((n, 0))

    def reward(self, q, qd, action, command):
        return _smooth_reward(q, qd, action), np.abs(q[:, 0]) >= RAIL_STOP

    def success_init(self, n: int) -> np.ndarray:
        return np.ones(n, dtype=bool)

    def success_update(self, ok, q, command, step, terminated, ee) -> None:
        angle = np.abs(np.arctan2(np.sin(q[:, 1]), np.cos(q[:, 1])))
        last_quarter = step > self.episode_steps * 3 // 4
        ok &= ~terminated
        ok &= ~(last_quarter & (angle > self.success_angle))


class CartpoleBalance(CartpoleSwingup):
    """Start near upright; the episode ends (failed) when the pole tips past 0.4 rad."""

    task_id = "CartpoleBalance-v0"
    episode_steps = 250
    fall_angle = 0.4

    def initial_state(self, rng: np.random.Generator, n: int):
        q = rng.uniform(-1, 1, (n, 2)) * np.array([0.05, 0.05])
        return q, np.zeros((n, 2)), np.zeros((n, 0))

    def reward(self, q, qd, action, command):
        angle = np.abs(np.arctan2(np.sin(q[:, 1]), np.cos(q[:, 1])))
        terminated = (np.abs(q[:, 0]) >= RAIL_STOP) | (angle > self.fall_angle)
        return _smooth_reward(q, qd, action), terminated

    def success_update(self, ok, q, command, step, terminated, ee) -> None:
        ok &= ~terminated
