"""The one task registry: the tasks by kind of robot, found by importing their modules, and the one alias table.

A task is one module, sim/tasks/<task>.py: its `TaskSpec`s (sim/tasks/spec.py), its observation
interface and its logic. Tasks are written against a kind of robot, never a robot: `Reach-v0` for any
fixed-base arm, `Walk-v0` for any legged robot, `PoleBalance-v0` / `PoleSwingup-v0` for any cart-pole;
each takes the robot (a shipped robot's name or a robot.yaml path) and refuses one of another kind,
saying why. They have no default robot: which robot a policy drives is a choice the caller makes.

`ALIASES` binds the older ids to a task and a robot, so the shipped policies (their cards name these
ids) and every command that names them keep working unchanged: `IiwaReach-v0` is `Reach-v0` on the
iiwa, and so on. It is the only place in sim/tasks/ that names a robot.

Gymnasium registration (`sim/__init__.py`), the observation contract (`sim.observations.task_interface`),
the episode core, the training CLI's short names (`robot_rl.envs`) and the policy cards
(`robot_rl.runtime.card`) all read this module. Adding a task: write its module (`SPECS`, its specs)
and add it to `TASK_MODULES`. Imports numpy and the task modules only (the deploy runtime reads it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sim.tasks import pole, reach, walk
from sim.tasks.spec import TaskRobotError, TaskSpec

if TYPE_CHECKING:
    from sim.robot import RobotSpec

__all__ = ["ALIASES", "ALL_TASKS", "GENERIC_TASKS", "TASKS", "TASK_SPECS", "TaskRobotError", "TaskSpec", "bind_task",
           "default_robot", "resolve_robot", "shipped_robots_for", "task_spec", "tasks_for"]

TASK_MODULES = (pole, reach, walk)
_BY_KIND: tuple[TaskSpec, ...] = tuple(spec for module in TASK_MODULES for spec in module.SPECS)

# The one alias table: old id -> (task by kind, robot). Shipped policies' cards name these ids.
ALIASES: dict[str, tuple[str, str]] = {
    "CartpoleBalance-v0": ("PoleBalance-v0", "cartpole"),
    "CartpoleSwingup-v0": ("PoleSwingup-v0", "cartpole"),
    "IiwaReach-v0": ("Reach-v0", "iiwa"),
    "A1Walk-v0": ("Walk-v0", "a1"),
}


def _alias(alias: str, task: str, robot: str) -> TaskSpec:
    spec = next(s for s in _BY_KIND if s.id == task)
    return replace(spec, id=alias, robot=robot, alias_of=task)


# Every task id: the aliases (bound to a robot, made without robot=) then the tasks by kind (robot= needed).
TASK_SPECS: tuple[TaskSpec, ...] = tuple(_alias(a, t, r) for a, (t, r) in ALIASES.items()) + _BY_KIND
TASKS: tuple[str, ...] = tuple(ALIASES)  # ids bound to a robot: gymnasium.make needs no robot= for these
GENERIC_TASKS: tuple[str, ...] = tuple(s.id for s in _BY_KIND)  # by kind of robot: robot= required
ALL_TASKS: tuple[str, ...] = TASKS + GENERIC_TASKS


def task_spec(task: str) -> TaskSpec:
    """The spec of `task` (`Reach-v0`, `A1Walk-v0` or `robot_rl/A1Walk-v0`), unbound; unknown ids list the known."""
    task = task.removeprefix("robot_rl/")
    for t in TASK_SPECS:
        if t.id == task:
            return t
    raise ValueError(f"unknown task '{task}'; tasks: {', '.join(ALL_TASKS)}")


def default_robot(task: str) -> str | None:
    """The robot an alias names (`iiwa` for IiwaReach-v0); None for a task by kind."""
    return task_spec(task).robot


def resolve_robot(task: str, robot: RobotSpec | str | None = None) -> RobotSpec:
    """The robot `task` runs on: `robot` (a RobotSpec, a shipped robot's name or a robot.yaml path), else the
    alias's robot; TaskRobotError if there is none or it is not of the task's kind."""
    from sim.robot import RobotSpec, load_robot

    spec = task_spec(task)
    if robot is None:
        if spec.robot is None:
            raise TaskRobotError(f"task '{spec.id}' is written for {spec.kind}, and needs the robot: robot= (or "
                                 f"--robot) a shipped robot's name or a robot.yaml path; shipped robots of its kind: "
                                 f"{', '.join(shipped_robots_for(spec.id)) or 'none'}"
                                 + "".join(f"; {a} is {spec.id} on {r}" for a, (t, r) in ALIASES.items()
                                           if t == spec.id))
        robot = spec.robot
    loaded = robot if isinstance(robot, RobotSpec) else load_robot(robot)
    why = spec.why_not(loaded)
    if why is not None:
        raise TaskRobotError(why)
    return loaded


def bind_task(task: str, robot: RobotSpec | str | None = None) -> tuple[TaskSpec, RobotSpec]:
    """(the spec of `task` bound to its robot: settings resolved, id as asked; the robot)."""
    spec = task_spec(task)
    loaded = resolve_robot(spec.id, robot)
    return spec.bind(loaded, spec.id), loaded


def tasks_for(robot: RobotSpec) -> list[str]:
    """Task ids that can drive `robot`: the aliases naming it, then the tasks by kind it fits."""
    bound = [s.id for s in TASK_SPECS if s.robot == robot.name and s.why_not(robot) is None]
    return bound + [s.id for s in _BY_KIND if s.why_not(robot) is None]


def shipped_robots_for(task: str) -> list[str]:
    """Names of the shipped robots (sim/robots/) that `task` can drive (loads each: an error message's list)."""
    from sim.errors import SimError
    from sim.robot import available_robots, load_robot

    spec, names = task_spec(task), []
    for name in available_robots():
        try:
            if spec.why_not(load_robot(name)) is None:
                names.append(name)
        except (SimError, OSError):  # a broken robot folder is its own error, not this one's
            continue
    return names
