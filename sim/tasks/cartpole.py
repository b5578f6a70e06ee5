"""Cart-pole balance and swing-up (dm_control-style smooth rewards in [0, 1] per step).

Angle convention: hinge = 0 with the pole upright. Both tasks end early if the cart reaches the
end of its rail (|x| >= 0.78 m, 2 cm before the hard stop), which also voids success.
"""

from __future__ import annotations

import numpy as np

from sim.state import RobotState
from sim.tasks.logic import TaskLogic

RAIL_STOP = 0.78  # m


def _smooth_reward(q: np.ndarray, qd: np.ndarray, action: np.ndarray) -> np.ndarray:
    upright = (np.cos(q[:, 1]) + 1.0) / 2.0
    centered = 1.0 - 0.5 * np.minimum((q[:, 0] / RAIL_STOP) ** 2, 1.0)
    small_control = (4.0 + (1.0 - np.minimum(action[:, 0] ** 2, 1.0))) / 5.0
    small_velocity = (1.0 + np.exp(-0.1 * qd[:, 1] ** 2)) / 2.0
    return upright * centered * small_control * small_velocity


class CartpoleSwingup(TaskLogic):
    """Start hanging down; success = pole within 12 deg of upright over the last quarter, no rail stop."""

    success_angle = np.deg2rad(12.0)

    def initial_state(self, rng: np.random.Generator, n: int):
        q = np.zeros((n, 2))
        q[:, 1] = np.pi
        q += rng.uniform(-1, 1, (n, 2)) * np.array([0.02, 0.02])
        return q, np.zeros((n, 2)), np.zeros((n, 0))

    def reward_terms(self, state: RobotState, action, last_action, command):
        return {"smooth": _smooth_reward(state.q, state.qd, action)}

    def terminated(self, state: RobotState) -> np.ndarray:
        return np.abs(state.q[:, 0]) >= RAIL_STOP

    def success_update(self, ok, state, command, step, terminated) -> None:
        q = state.q
        angle = np.abs(np.arctan2(np.sin(q[:, 1]), np.cos(q[:, 1])))
        last_quarter = step > self.episode_steps * 3 // 4
        ok &= ~terminated
        ok &= ~(last_quarter & (angle > self.success_angle))


class CartpoleBalance(CartpoleSwingup):
    """Start near upright; the episode ends (failed) when the pole tips past 0.4 rad."""

    fall_angle = 0.4

    def initial_state(self, rng: np.random.Generator, n: int):
        q = rng.uniform(-1, 1, (n, 2)) * np.array([0.05, 0.05])
        return q, np.zeros((n, 2)), np.zeros((n, 0))

    def terminated(self, state: RobotState) -> np.ndarray:
        q = state.q
        angle = np.abs(np.arctan2(np.sin(q[:, 1]), np.cos(q[:, 1])))
        return (np.abs(q[:, 0]) >= RAIL_STOP) | (angle > self.fall_angle)

    def success_update(self, ok, state, command, step, terminated) -> None:
        ok &= ~terminated
