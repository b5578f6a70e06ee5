"""What a task is (`TaskSpec`), written against a kind of robot, and how it binds to one robot.

A task module (sim/tasks/<task>.py) defines one or more `TaskSpec`s: the kind of robot it needs
(`fits` says why a robot is not one), its observation interface, its logic, reward weights, episode
length, success and settings, and `configure`, which derives the robot-dependent settings (a reach's
home pose and goal region, a walk's command ranges) from the robot and its robot.yaml overrides.
`TaskSpec.bind(robot)` is the spec an episode runs: checked against the robot, settings resolved.
The registry (sim/tasks/registry.py) lists the modules' specs and the alias table of old ids.

Standard library only: the deploy runtime reads task specs on a robot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sim.errors import SimError

if TYPE_CHECKING:
    from sim.robot import RobotSpec
    from sim.tasks.interface import TaskInterface


class TaskRobotError(SimError, ValueError):
    """A task was asked to drive a robot of another kind (or an alias's task another robot)."""


@dataclass(frozen=True)
class TaskSpec:
    """A task for a kind of robot: observation, reward terms and weights, episode length, success, settings.

    interface(task_id, robot) builds the TaskInterface (observation layout, action scaling); logic is the
    TaskLogic class (initial state, reward terms, termination, success: batched numpy, sim/tasks/logic.py).
    reward: term name -> weight; the step reward is sum(weight * term), each weighted term reported per
    episode (`final_info["reward/<term>"]`). kind: the robots it is written for, in words ("a fixed-base
    arm with an end_effector"); fits(robot) is None for such a robot, else why not. configure(spec, robot)
    returns the spec with its robot-dependent config and weights resolved (None: nothing depends on the
    robot). robot: None for a task by kind; the robot's name once bound, or an alias's robot.
    """

    id: str
    kind: str
    interface: Callable[[str, RobotSpec], TaskInterface]
    logic: type
    episode_steps: int
    reward: dict[str, float]
    success: str  # one line: what success means, for docs and `robot-rl robots`
    # Task settings (command ranges...). Read by the episode core: `rate_limited_targets` (True: position
    # targets move at most the SafetyFilter's rate limit per control period, as deployed).
    config: dict[str, Any] = field(default_factory=dict)
    fits: Callable[[RobotSpec], str | None] = field(default=lambda robot: None, repr=False, compare=False)
    configure: Callable[[TaskSpec, RobotSpec], TaskSpec] | None = field(default=None, repr=False, compare=False)
    robot: str | None = None
    alias_of: str | None = None  # the task by kind this id names on one robot (IDs of sim.tasks.registry.ALIASES)

    @property
    def env_id(self) -> str:
        return f"robot_rl/{self.id}"

    def why_not(self, robot: RobotSpec) -> str | None:
        """None if this task can drive `robot`; else one sentence saying why not and what would."""
        if self.robot is not None and robot.name != self.robot:
            task = self.alias_of or "the task by kind"
            return (f"task '{self.id}' is {task} on robot '{self.robot}'; for robot '{robot.name}' "
                    f"({robot.yaml_path}) use {task}")
        why = self.fits(robot)
        if why is not None:
            return f"task '{self.id}' needs {self.kind}; robot '{robot.name}' ({robot.yaml_path}) {why}"
        return None

    def bind(self, robot: RobotSpec, task_id: str | None = None) -> TaskSpec:
        """This spec for `robot`, its settings resolved, under `task_id` (default: this id); TaskRobotError
        if the robot is not of the task's kind (or not an alias's robot)."""
        why = self.why_not(robot)
        if why is not None:
            raise TaskRobotError(why)
        bound = replace(self, id=task_id or self.id, robot=robot.name)
        return self.configure(bound, robot) if self.configure is not None else bound
