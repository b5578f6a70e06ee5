"""The observation (and action) contract of a task on a robot: `TaskInterface`, built by `task_interface`. Numpy only.

Observation mismatch between simulator and robot is the classic sim-to-real bug, so the
simulator's tasks and the deploy runtime build observations with *this* code and nothing else:
from what a real robot reports (a `sim.state.RobotState`: joint positions and velocities in
robot.yaml order and, for a legged robot, its IMU), the last action the policy sent, and the task's
command/goal. Each task's observation function lives in its module (sim/tasks/<task>.py, with its
spec and logic); `task_interface(task, robot)` is the one entry point the episode core and the
deploy runtime call. Importing this module, or a task module, must not import a simulator or torch
(a test checks this).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.tasks.interface import ObsField, TaskInterface
from sim.tasks.registry import resolve_robot, task_spec

if TYPE_CHECKING:
    from sim.robot import RobotSpec

__all__ = ["ObsField", "TaskInterface", "task_interface"]


def task_interface(task: str, robot: RobotSpec | str | None = None) -> TaskInterface:
    """The observation/action contract of `task` for `robot` (a RobotSpec, a shipped robot's name or a
    robot.yaml path; default: an alias's robot, e.g. the iiwa for IiwaReach-v0). A task by kind (Reach-v0)
    needs the robot; a robot of another kind is refused, saying why (sim.tasks.spec.TaskRobotError)."""
    spec = task_spec(task)
    return spec.interface(spec.id, resolve_robot(spec.id, robot))
