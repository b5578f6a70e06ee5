"""What a robot.yaml says about the tasks written for its kind: the optional `reach:` and `walk:` blocks.

Why in the robot's folder: a task is written once for a kind of robot (sim/tasks/reach.py for any
fixed-base arm, sim/tasks/walk.py for any legged robot) and derives its settings from the robot: the
reach's home pose and goal region from the joint limits and forward kinematics, the walk's command
ranges and size-dependent weights from the standing height and mass. Where a derived value is not what
the robot's owner wants (a home pose clear of the table, a smaller goal box, slower commands), the
robot's own file says so and no Python changes. The blocks are read and checked when the robot is
loaded, so a typo is an error naming the file and the field; which settings exist is this module's
business, what they mean is the task's.

Standard library only: the deploy runtime loads robots without numpy-heavy or simulator imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from sim.errors import ConfigError
from sim.validation import check_interval, check_keys, check_number, is_number, joint_pose

REACH_KEYS = ("home", "goal_low", "goal_high", "success_distance")
# The Walk task's settings a robot may override (sim/tasks/walk.py says what each means), and `reward`:
# term name -> weight (the term names are checked by the task, which owns them).
WALK_RANGE_KEYS = ("lin_vel_x", "lin_vel_y", "yaw_rate")
WALK_NUMBER_KEYS = ("stand_probability", "tracking_sigma", "tracking_sigma_yaw", "max_tilt_deg", "success_error",
                    "success_after_s", "air_time_min", "air_time_max")
WALK_KEYS = WALK_RANGE_KEYS + WALK_NUMBER_KEYS + ("reward",)
MAX_COMMAND = 20.0  # m/s or rad/s: a command range beyond it is a unit slip
MAX_GOAL_COORDINATE = 10.0  # m from the arm's base


@dataclass(frozen=True)
class ReachSettings:
    """robot.yaml `reach:`, each field None where the task derives it from the robot.

    home: joint positions in robot.yaml joint order (the episode's start, rad or m);
    goal_low / goal_high: corners of the box goals are drawn from, m, in the URDF root's frame;
    success_distance: how near the end effector must end, m.
    """

    home: tuple[float, ...] | None = None
    goal_low: tuple[float, float, float] | None = None
    goal_high: tuple[float, float, float] | None = None
    success_distance: float | None = None


@dataclass(frozen=True)
class WalkSettings:
    """robot.yaml `walk:`: the Walk task's settings this robot overrides (None: the task's, scaled to the robot).

    Values are in the robot's own units (they replace the scaled default, they are not scaled again).
    """

    lin_vel_x: tuple[float, float] | None = None
    lin_vel_y: tuple[float, float] | None = None
    yaw_rate: tuple[float, float] | None = None
    stand_probability: float | None = None
    tracking_sigma: float | None = None
    tracking_sigma_yaw: float | None = None
    max_tilt_deg: float | None = None
    success_error: float | None = None
    success_after_s: float | None = None
    air_time_min: float | None = None
    air_time_max: float | None = None
    reward: dict[str, float] = field(default_factory=dict)

    def given(self) -> dict[str, Any]:
        """The settings the robot sets (not `reward`), by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name != "reward" and getattr(self, f.name) is not None}


def parse_reach(data: dict, joints: list, floating: bool, source: str) -> ReachSettings | None:
    """robot.yaml `reach:` checked against the robot's joints (`joints`: its JointSpecs, in order)."""
    block = data.get("reach")
    if block is None:
        return None
    if floating:
        raise ConfigError(source, "reach", "only a fixed-base arm (no 'base:' section) has a reach task")
    if not isinstance(block, dict):
        raise ConfigError(source, "reach", f"got {block!r}; expected a mapping with some of {', '.join(REACH_KEYS)}")
    check_keys(block, REACH_KEYS, source, "reach.")
    home = None
    if "home" in block:
        home = joint_pose(block["home"], joints, source, "reach.home")
    corners = [_point(block[k], source, f"reach.{k}") if k in block else None for k in ("goal_low", "goal_high")]
    if (corners[0] is None) != (corners[1] is None):
        given = "goal_low" if corners[0] is not None else "goal_high"
        raise ConfigError(source, f"reach.{given}", "give goal_low and goal_high together (the two corners of "
                          "the goal box), or neither (the task derives the box from the reachable workspace)")
    if corners[0] is not None:
        for axis, lo, hi in zip("xyz", corners[0], corners[1], strict=True):
            if not lo < hi:
                raise ConfigError(source, "reach.goal_high", f"{axis} = {hi:g} is not above goal_low's {lo:g}; "
                                  "expected goal_low < goal_high on every axis")
    success = None
    if "success_distance" in block:
        success = check_number(block["success_distance"], source, "reach.success_distance", minimum=0.0,
                               min_open=True, maximum=1.0, unit="m")
    return ReachSettings(home, corners[0], corners[1], success)


def _point(value: Any, source: str, where: str) -> tuple[float, float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 3 or not all(is_number(v) for v in value):
        raise ConfigError(source, where, f"got {value!r}; expected [x, y, z] in m (the URDF root's frame)")
    return tuple(check_number(v, source, f"{where}[{i}]", minimum=-MAX_GOAL_COORDINATE, maximum=MAX_GOAL_COORDINATE,
                              unit="m") for i, v in enumerate(value))  # type: ignore[return-value]


def parse_walk(data: dict, floating: bool, source: str) -> WalkSettings | None:
    """robot.yaml `walk:`, each setting checked for its range (term names of `reward` are the task's to check)."""
    block = data.get("walk")
    if block is None:
        return None
    if not floating:
        raise ConfigError(source, "walk", "only a legged robot (a 'base:' section) has a walk task")
    if not isinstance(block, dict):
        raise ConfigError(source, "walk", f"got {block!r}; expected a mapping with some of {', '.join(WALK_KEYS)}")
    check_keys(block, WALK_KEYS, source, "walk.")
    values: dict[str, Any] = {}
    units = {"lin_vel_x": "m/s", "lin_vel_y": "m/s", "yaw_rate": "rad/s"}
    for key in WALK_RANGE_KEYS:
        if key in block:
            values[key] = check_interval(block[key], source, f"walk.{key}", minimum=-MAX_COMMAND,
                                         maximum=MAX_COMMAND, unit=units[key])
    ranges = {  # (minimum, minimum excluded, maximum, unit)
        "stand_probability": (0.0, False, 1.0, ""), "tracking_sigma": (0.0, True, 100.0, "(m/s)^2"),
        "tracking_sigma_yaw": (0.0, True, 100.0, "(rad/s)^2"), "max_tilt_deg": (0.0, True, 90.0, "deg"),
        "success_error": (0.0, True, MAX_COMMAND, "m/s"), "success_after_s": (0.0, False, 1000.0, "s"),
        "air_time_min": (0.0, False, 10.0, "s"), "air_time_max": (0.0, True, 10.0, "s"),
    }
    for key, (lo, lo_open, hi, unit) in ranges.items():
        if key in block:
            values[key] = check_number(block[key], source, f"walk.{key}", minimum=lo, min_open=lo_open, maximum=hi,
                                       unit=unit)
    if "air_time_min" in values and "air_time_max" in values and values["air_time_min"] >= values["air_time_max"]:
        raise ConfigError(source, "walk.air_time_max", f"{values['air_time_max']:g} s is not above air_time_min's "
                          f"{values['air_time_min']:g} s")
    reward = block.get("reward") or {}
    if not isinstance(reward, dict):
        raise ConfigError(source, "walk.reward", f"got {reward!r}; expected a mapping reward term -> weight")
    weights = {str(k): check_number(v, source, f"walk.reward.{k}") for k, v in reward.items()}
    return WalkSettings(**values, reward=weights)
