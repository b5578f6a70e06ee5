"""The one task registry: every task is a `TaskSpec` here, and nowhere else.

Gymnasium registration (`sim/__init__.py`), the observation contract (`sim.observations.task_interface`),
the episode core's logic, the training CLI's short names (`robot_rl.envs`) and the policy cards
(`robot_rl.runtime.card`) all read this tuple. Adding a task = a logic class in sim/tasks/, an
observation function in sim/observations.py, and one entry below.

Imports nothing beyond the standard library: the deploy runtime reads it on a robot.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TaskSpec:
    """What a task is: its robot, observation, reward terms and weights, episode length, success.

    interface: name of the function in sim/observations.py building its TaskInterface (observation
    layout, action scaling). logic: "module:Class" with initial state, reward terms, termination and
    success (batched numpy, see sim/tasks/logic.py). reward: term name -> weight; the step reward is
    sum(weight * term), and each weighted term is reported per episode (`final_info["reward/<term>"]`).
    """

    id: str
    robot: str
    interface: str
    logic: str
    episode_steps: int
    reward: dict[str, float]
    success: str  # one line: what success means, for docs and `robot-rl robots`
    # Task-specific settings (command ranges...). Read by the episode core: `rate_limited_targets`
    # (True: position targets move at most the SafetyFilter's rate limit per control period, as deployed).
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def env_id(self) -> str:
        return f"robot_rl/{self.id}"

    def logic_class(self) -> type:
        module, cls = self.logic.split(":")
        return getattr(importlib.import_module(module), cls)


TASK_SPECS: tuple[TaskSpec, ...] = (
    TaskSpec("CartpoleBalance-v0", "cartpole", "cartpole_interface", "sim.tasks.cartpole:CartpoleBalance",
             250, {"smooth": 1.0}, "no rail stop and the pole never past 0.4 rad in 5 s"),
    TaskSpec("CartpoleSwingup-v0", "cartpole", "cartpole_interface", "sim.tasks.cartpole:CartpoleSwingup",
             250, {"smooth": 1.0}, "pole within 12 deg of upright over the last quarter of 5 s, no rail stop"),
    TaskSpec("IiwaReach-v0", "iiwa", "iiwa_reach_interface", "sim.tasks.iiwa_reach:IiwaReach",
             100, {"distance": -1.0, "near_goal": 0.5, "precision": 1.0, "joint_velocity": -0.001},
             "end effector within 2 cm of the goal at the end of 2 s", {"rate_limited_targets": True}),
    TaskSpec("A1Walk-v0", "a1", "legged_velocity_interface", "sim.tasks.legged:VelocityTracking",
             1000,
             {"tracking_lin_vel": 1.0, "tracking_ang_vel": 0.5, "lin_vel_z": -2.0, "ang_vel_xy": -0.05,
              "orientation": -5.0, "torques": -2e-4, "action_rate": -0.01, "feet_air_time": 1.0,
              "termination": -10.0},
             "no fall in 20 s and mean planar velocity tracking error <= 0.25 m/s after the first second",
             {"lin_vel_x": (-0.6, 1.0), "lin_vel_y": (-0.4, 0.4), "yaw_rate": (-1.0, 1.0), "stand_probability": 0.1,
              "tracking_sigma": 0.25, "max_tilt_deg": 60.0, "success_error": 0.25, "success_after_s": 1.0}),
)

TASKS: tuple[str, ...] = tuple(t.id for t in TASK_SPECS)


def task_spec(task: str) -> TaskSpec:
    """The spec of `task` (`A1Walk-v0` or `robot_rl/A1Walk-v0`); unknown ids list the known ones."""
    task = task.removeprefix("robot_rl/")
    for t in TASK_SPECS:
        if t.id == task:
            return t
    raise ValueError(f"unknown task '{task}'; tasks: {', '.join(TASKS)}")


def logic_for(task: str) -> type:
    """The logic class of `task` (imported on first use: it may need numpy and the robot's kinematics)."""
    return task_spec(task).logic_class()
