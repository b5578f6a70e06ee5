"""iiwa reach: bring the end effector (link 7 frame) to a goal sampled in front of the robot.

Success = within 2 cm of the goal at the end of the episode. Reward is the negative distance
plus a bonus inside 5 cm, minus a small penalty on joint velocity (smooth, robot-friendly motion).
"""

from __future__ import annotations

import numpy as np

from sim.kinematics import SerialChainFK
from sim.observations import TaskInterface
from sim.robot import RobotSpec
from sim.state import RobotState
from sim.tasks.logic import TaskLogic
from sim.tasks.registry import TaskSpec

HOME = np.array([0.0, 0.6, 0.0, -1.2, 0.0, 0.9, 0.0])
GOAL_LOW = np.array([0.35, -0.35, 0.30])
GOAL_HIGH = np.array([0.65, 0.35, 0.75])


class IiwaReach(TaskLogic):
    success_distance = 0.02

    def __init__(self, robot: RobotSpec, interface: TaskInterface, spec: TaskSpec):
        super().__init__(robot, interface, spec)
        self.fk = SerialChainFK(robot.urdf, robot.joint_names, robot.end_effector)

    def initial_state(self, rng: np.random.Generator, n: int):
        q = np.tile(HOME, (n, 1))
        goal = rng.uniform(GOAL_LOW, GOAL_HIGH, (n, 3))
        return q, np.zeros_like(q), goal

    def ee_positions(self, q: np.ndarray) -> np.ndarray:
        return np.stack([self.fk.position(qi) for qi in q])

    def reward_terms(self, state: RobotState, action, last_action, command):
        dist = np.linalg.norm(self.ee_positions(state.q) - command, axis=1)
        return {"distance": dist, "near_goal": (dist < 0.05).astype(float),
                "joint_velocity": np.sum(state.qd**2, axis=1)}

    def success_init(self, n: int) -> np.ndarray:
        return np.zeros(n, dtype=bool)

    def success_update(self, ok, state, command, step, terminated) -> None:
        ok[:] = np.linalg.norm(self.ee_positions(state.q) - command, axis=1) < self.success_distance
