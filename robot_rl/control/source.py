"""A model-based controller (LQR, MPC) as a `CommandSource` of the one control node.

The node (`robot_rl.deploy.control_node`) drives it exactly as it drives a policy: joint states in,
the source's raw command through the SafetyFilter (limits, rate limits, watchdog, e-stop, ramp,
faults), and only the filter's output onto the wire. The source never publishes and never enforces
a limit; a NaN or an exception from the controller becomes a fault of the filter, as a broken policy's
would (`Controller.step`).

The controller plans with MuJoCo, so a deploy machine running one needs the `mujoco` package; it is
imported when the source is built (`robot_rl.control.model.require_mujoco` says what to install).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sim.params import ParamsLike
from sim.robot import RobotSpec
from sim.state import ImuState

__all__ = ["ControllerSource"]


class ControllerSource:
    """``controller`` (from `robot_rl.control.factory.build_controller`) for ``task`` on ``robot``.

    ``task_input`` is ``goal`` for a reach (the node's /goal_point), else None. The controller is reset
    at each activation (`start`) from the first state it then sees: a position servo's plan starts
    where the joints are, as the filter's ramp does.
    """

    needs_imu = False

    def __init__(self, controller: Any, kind: str, task: str, robot: RobotSpec, model_params: str | None = None):
        self.controller = controller
        self.kind = kind
        self.task = task
        self.robot = robot
        self.limits_robot = robot
        self.model_params = model_params
        from robot_rl.control.factory import task_family

        self.task_input: str | None = "goal" if task_family(task) == "reach" else None
        self._fresh = True

    @classmethod
    def build(cls, kind: str, task: str, robot: RobotSpec, model_params: ParamsLike = None,
              mpc: dict[str, Any] | None = None) -> ControllerSource:
        """Design the controller (linearize, solve the Riccati equation, set up the planner's threads):
        raises a user error for a task it cannot drive or a bad params file, before any transport exists."""
        from robot_rl.control.factory import build_controller

        controller = build_controller(kind, task, robot, model_params, mpc)
        where = str(model_params) if isinstance(model_params, (str, Path)) else None
        return cls(controller, kind, task, robot, where)

    def start(self, now: float) -> None:
        self._fresh = True

    def command(self, now: float, q: np.ndarray, qd: np.ndarray, task_input: np.ndarray | None,
                imu: ImuState | None) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        qd = np.asarray(qd, dtype=np.float64)
        n = len(self.robot.joints)
        if q.shape != (n,) or qd.shape != (n,):
            raise ValueError(f"expected {n} joint positions and velocities, got shapes {q.shape} and {qd.shape}")
        if self._fresh:
            self.controller.reset(q)
            self._fresh = False
        goal = None if task_input is None else np.asarray(task_input, dtype=np.float64)
        return np.asarray(self.controller.command(q, qd, goal), dtype=np.float64)

    def finished(self, now: float) -> bool:
        return False

    def limits_summary(self) -> str:
        return "robot.yaml"

    def describe(self) -> dict[str, str]:
        t = self.controller.timing_summary()
        return {"controller": self.controller.describe(), "task": self.task,
                "model_params": self.model_params or "nominal",
                "compute_p50_ms": f"{t['compute_p50_ms']:.3f}", "compute_p99_ms": f"{t['compute_p99_ms']:.3f}"}

    def close(self) -> None:
        for part in (self.controller, getattr(self.controller, "mpc", None)):
            close = getattr(part, "close", None)
            if close is not None:
                close()
