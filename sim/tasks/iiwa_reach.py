"""iiwa reach: bring the end effector (link 7 frame) to a goal sampled in front of the robot.

Success = within 2 cm of the goal at the end of the episode. Reward is the negative distance
plus a bonus inside 5 cm, minus a small penalty on joint velocity (smooth, robot-friendly motion).
"""

from __future__ import annotations

import numpy as np

from sim.kinematics import SerialChainFK
from sim.observations import TaskInterface
from sim.robot import RobotSpec

HOME = np.array([0.0, 0.6, 0.0, -1.2, 0.0, 0.9, 0.0])
GOAL_LOW = np.array([0.35, -0.35, 0.30])
GOAL_HIGH = np.array([0.65, 0.35, 0.75])


class IiwaReach:
    task_id = "IiwaReach-v0"
    robot_name = "iiwa"
    episode_steps = 100  # 2 s at 50 Hz
    success_distance = 0.02

    def __init__(self, robot: RobotSpec, interface: TaskInterface):
        self.fk = SerialChainFK(robot.urdf, robot.joint_names, robot.end_effector)

    def initial_state(self, rng: np.random.Generator, n: int):
        q = np.tile(HOME, (n, 1))
        goal = rng.uniform(GOAL_LOW, GOAL_HIGH, (n, 3))
        return q, np.zeros_like(q), goal

    def ee_positions(self, q: np.ndarray) -> np.ndarray:
        return np.stack([self.fk.position(qi) for qi in q])

    def reward(self, q, qd, action, command):
        dist = np.linalg.norm(self.ee_positions(q) - command, axis=1)
        r = -dist + 0.5 * (dist < 0.05) - 0.001 * np.sum(qd**2, axis=1)
        return r, np.zeros(len(q), dtype=bool)

    def success_init(self, n: int) -> np.ndarray:
        return np.zeros(n, dtype=bool)

    def success_update(self, ok, q, command, step, terminated, ee) -> None:
        ee = self.ee_positions(q) if ee is None else ee
        ok[:] = np.linalg.norm(ee - command, axis=1) < self.success_distance
