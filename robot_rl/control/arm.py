"""An arm's LQR reach: inverse kinematics to the goal, then LQR about the pose that holds it there.

The goal (the task's command, /goal_point when deployed) is a point for the end effector. Its pose
comes from `solve_position_ik` on the planning model, started from the measured joints; the
operating point is that pose at rest, with the position targets that hold it against gravity
(`PlanningModel.equilibrium_command`: with a calibrated model, the calibrated link masses and
payload). The gain is designed once, at the first goal's pose, and kept for later goals (see
`LqrController.retarget`). A new goal re-solves the pose on the first period it is seen.
"""

from __future__ import annotations

import time

import numpy as np

from robot_rl.control.ik import solve_position_ik
from robot_rl.control.lqr import LqrController, LqrWeights
from robot_rl.control.model import PlanningModel
from robot_rl.control.timing import timing_summary
from robot_rl.errors import RobotRLError

__all__ = ["ReachLqr"]


class ReachLqr:
    """LQR hold of the IK pose of each goal; ``home`` is where the gain is designed until a goal arrives."""

    kind = "lqr"

    def __init__(self, model: PlanningModel, home: np.ndarray, weights: LqrWeights | None = None):
        if model.robot.end_effector is None:
            raise RobotRLError(f"robot '{model.robot.name}' ({model.robot.yaml_path}) names no end_effector; "
                               "a reach needs the link that reaches")
        self.model = model
        self.home = np.asarray(home, dtype=float)
        self.lqr = LqrController(model, self.home, weights)
        self.goal: np.ndarray | None = None
        self.ik_error = 0.0
        self.timings: list[float] = []

    def reset(self, q: np.ndarray | None = None) -> None:
        self.goal = None
        self.start = self.home if q is None else np.asarray(q, dtype=float)
        self.lqr.retarget(self.start)
        self.lqr.reset(q)

    def command(self, q: np.ndarray, qd: np.ndarray, goal: np.ndarray | None = None) -> np.ndarray:
        t0 = time.perf_counter()
        if goal is not None and (self.goal is None or not np.array_equal(goal, self.goal)):
            self.goal = np.asarray(goal, dtype=float).copy()
            pose, self.ik_error = solve_position_ik(self.model, self.model.robot.end_effector, self.goal, self.start)
            self.lqr.retarget(pose)
        u = self.lqr.command(q, qd)
        self.timings.append(time.perf_counter() - t0)
        return u

    def timing_summary(self) -> dict[str, float]:
        return timing_summary(self.timings, self.model.control_dt)

    def describe(self) -> str:
        return f"LQR hold of the inverse-kinematics pose of each goal on the {self.model.describe()}"
