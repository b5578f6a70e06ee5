"""The policy's limits are part of its contract: card limits versus the robot's, the tighter one wins.

A policy was trained (and its card written) under one robot description's joint position,
velocity and effort limits; the simulator enforced them, and the action scaling was derived from
them. The robot it is asked to drive may state other limits in its robot.yaml:

* **tighter** (a commissioning speed limit, a narrowed workspace): the runtime drives with the
  robot's limits. The policy keeps its own action mapping (the card's), and the SafetyFilter clips
  what the smaller envelope does not allow;
* **wider** by more than :data:`WIDER_MARGIN`: the policy never experienced that envelope, and a
  wider robot.yaml is more often a wrong file than a better robot. It is refused, naming the joint,
  the field and the flag, unless the operator passes ``--allow-wider-limits``
  (``allow_wider_limits=True``); then the runtime drives with the card's (tighter) limits.

Either way the limits driven with are the tighter of the two, field by field, and
:meth:`LimitsContract.summary` says which source each differing field came from (the policy node
puts it in its diagnostics). Standard library only, like the rest of the runtime's contract code.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from robot_rl.errors import PolicyContractError
from sim.robot import ActuatorSpec, JointSpec, RobotSpec

__all__ = ["WIDER_MARGIN", "FLAG", "LimitUse", "LimitsContract", "compare_limits", "with_card_limits"]

# How much wider than the card a robot.yaml limit may be without the flag: rounding in a URDF
# round trip, not a different robot. Relative to the card's value (position: to its range).
WIDER_MARGIN = 0.01
FLAG = "--allow-wider-limits"

_UNITS = {"prismatic": ("m", "m/s", "N"), "revolute": ("rad", "rad/s", "N*m"), "continuous": ("rad", "rad/s", "N*m")}


@dataclass(frozen=True)
class LimitUse:
    """One limit that differs between the card and robot.yaml, and which of the two is driven with."""

    owner: str  # "joint 'slider'" or "actuator 'slider'"
    field: str  # position_limits lower | position_limits upper | velocity_limit | effort_limit
    card: float
    robot: float
    unit: str
    card_field: str  # where in policy.json, e.g. robot.joints[0].velocity_limit
    wider: bool  # robot.yaml is wider than the card by more than the margin

    @property
    def source(self) -> str:
        """Which limit is driven with: the tighter one."""
        return "card" if self.wider or _tighter_is_card(self) else "robot.yaml"

    @property
    def used(self) -> float:
        return self.card if self.source == "card" else self.robot

    def describe(self) -> str:
        other = self.robot if self.source == "card" else self.card
        other_name = "robot.yaml" if self.source == "card" else "card"
        used = f"{_fmt(self.used)} {self.unit}"
        return f"{self.owner} {self.field} {used} from the {self.source} ({other_name}: {_fmt(other)})"


def _tighter_is_card(use: LimitUse) -> bool:
    if use.field == "position_limits lower":
        return use.card > use.robot
    return use.card < use.robot  # upper, velocity, effort: smaller is tighter


def _fmt(value: float) -> str:
    return "unlimited" if math.isinf(value) else f"{value:g}"


@dataclass(frozen=True)
class LimitsContract:
    """The outcome of the comparison: the robot to drive with and what differed."""

    robot: RobotSpec  # robot.yaml with, per field, the tighter of its limit and the card's
    uses: tuple[LimitUse, ...]  # every field that differs
    allowed_wider: tuple[LimitUse, ...]  # wider robot.yaml limits accepted by the flag (card's used)

    def summary(self) -> str:
        """One line for logs and diagnostics: which limits are driven with."""
        if not self.uses:
            return "card and robot.yaml agree"
        parts = [u.describe() for u in self.uses]
        text = "tighter of card and robot.yaml: " + "; ".join(parts)
        if self.allowed_wider:
            text += f" (robot.yaml wider, accepted by {FLAG})"
        return text


def _number(value: Any, field: str, where: str, expected: str, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        raise PolicyContractError(f"{where}: field '{field}' is {value!r}; expected {expected} (re-export the policy)")
    return float(value)


_CardJoint = tuple[int, tuple[float, float] | None, float, float]


def _card_joint_limits(card: dict[str, Any], where: str) -> dict[str, _CardJoint]:
    """name -> (index, position limits or None, velocity limit, effort limit) from the card, checked."""
    joints = card.get("robot", {}).get("joints")
    if not isinstance(joints, list):
        raise PolicyContractError(
            f"{where}: field 'robot.joints' is {joints!r}; expected the list of joints with their limits "
            "(re-export the policy)"
        )
    out = {}
    for i, j in enumerate(joints):
        prefix = f"robot.joints[{i}]"
        if not isinstance(j, dict) or not isinstance(j.get("name"), str):
            raise PolicyContractError(f"{where}: field '{prefix}' is {j!r}; expected a joint with a name")
        limits = j.get("position_limits")
        if limits is not None:
            if not (
                isinstance(limits, list)
                and len(limits) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in limits)
                and limits[0] < limits[1]
            ):
                raise PolicyContractError(
                    f"{where}: field '{prefix}.position_limits' is {limits!r}; expected null or [lower, upper] "
                    "with lower < upper (re-export the policy)"
                )
            limits = (float(limits[0]), float(limits[1]))
        velocity = _number(j.get("velocity_limit"), f"{prefix}.velocity_limit", where, "a positive number")
        effort = _number(j.get("effort_limit"), f"{prefix}.effort_limit", where, "a number >= 0", allow_zero=True)
        out[j["name"]] = (i, limits, velocity, effort)
    return out


def _card_actuator_efforts(card: dict[str, Any], where: str) -> dict[str, tuple[int, float]]:
    actuators = card.get("robot", {}).get("actuators")
    if not isinstance(actuators, list):
        raise PolicyContractError(f"{where}: field 'robot.actuators' is {actuators!r}; expected a list (re-export)")
    out = {}
    for i, a in enumerate(actuators):
        if not isinstance(a, dict) or not isinstance(a.get("name"), str):
            raise PolicyContractError(f"{where}: field 'robot.actuators[{i}]' is {a!r}; expected an actuator")
        effort = _number(a.get("effort_limit"), f"robot.actuators[{i}].effort_limit", where, "a positive number")
        out[a["name"]] = (i, effort)
    return out


def _effort(value: float) -> float:
    """A joint effort limit of 0 means none is stated (a passive joint): unlimited for the comparison."""
    return math.inf if value == 0 else value


def with_card_limits(card: dict[str, Any], robot: RobotSpec) -> RobotSpec:
    """robot.yaml with the card's limits in place of its own: the robot the policy was trained on, as
    far as limits go. Its action mapping (derived from limits) is the policy's. Lenient: a joint or
    actuator the card does not describe well keeps robot.yaml's values (`compare_limits` reports it).
    """
    try:
        joints = _card_joint_limits(card, "")
        efforts = _card_actuator_efforts(card, "")
    except PolicyContractError:
        return robot
    new_joints = []
    for j in robot.joints:
        if j.name in joints:
            _, limits, velocity, effort = joints[j.name]
            j = dataclasses.replace(j, position_limits=limits, velocity_limit=velocity, effort_limit=effort)
        new_joints.append(j)
    new_acts = [
        dataclasses.replace(a, effort_limit=efforts[a.name][1]) if a.name in efforts else a for a in robot.actuators
    ]
    return dataclasses.replace(robot, joints=tuple(new_joints), actuators=tuple(new_acts))


def compare_limits(
    card: dict[str, Any],
    robot: RobotSpec,
    where: str,
    *,
    allow_wider: bool = False,
    margin: float = WIDER_MARGIN,
) -> LimitsContract:
    """Compare the card's joint position/velocity/effort and actuator effort limits with robot.yaml's.

    Returns the contract (the robot to drive with: the tighter limit per field). Raises
    PolicyContractError, one line naming the joint, the field and the flag, for a robot.yaml wider
    than the card by more than ``margin`` unless ``allow_wider``; and, whatever the flag, for position
    ranges that do not overlap.
    """
    card_joints = _card_joint_limits(card, where)
    card_efforts = _card_actuator_efforts(card, where)
    uses: list[LimitUse] = []
    new_joints: list[JointSpec] = []
    for j in robot.joints:
        if j.name not in card_joints:
            raise PolicyContractError(
                f"{where}: field 'robot.joints' has no joint '{j.name}' of {robot.yaml_path}; re-export the policy"
            )
        i, c_limits, c_vel, c_eff = card_joints[j.name]
        pos_unit, vel_unit, eff_unit = _UNITS[j.type]
        owner, prefix = f"joint '{j.name}'", f"robot.joints[{i}]"
        r_lo, r_hi = j.position_limits if j.position_limits else (-math.inf, math.inf)
        c_lo, c_hi = c_limits if c_limits else (-math.inf, math.inf)
        span = c_hi - c_lo if c_limits else math.inf
        for field, c, r, wider in (
            ("position_limits lower", c_lo, r_lo, r_lo < c_lo - margin * span),
            ("position_limits upper", c_hi, r_hi, r_hi > c_hi + margin * span),
        ):
            if c != r:
                uses.append(LimitUse(owner, field, c, r, pos_unit, f"{prefix}.position_limits", wider))
        lo, hi = max(c_lo, r_lo), min(c_hi, r_hi)
        if lo >= hi:
            raise PolicyContractError(
                f"{where}: position limits of {owner} are [{_fmt(c_lo)}, {_fmt(c_hi)}] {pos_unit} in the card but "
                f"[{_fmt(r_lo)}, {_fmt(r_hi)}] in {robot.yaml_path}: they do not overlap; this is not the robot "
                "the policy was trained for"
            )
        c_e, r_e = _effort(c_eff), _effort(j.effort_limit)
        for field, c, r, unit in (
            ("velocity_limit", c_vel, j.velocity_limit, vel_unit),
            ("effort_limit", c_e, r_e, eff_unit),
        ):
            if c != r:
                uses.append(LimitUse(owner, field, c, r, unit, f"{prefix}.{field}", r > c * (1 + margin)))
        eff = min(c_e, r_e)
        new_joints.append(
            dataclasses.replace(
                j,
                position_limits=None if math.isinf(lo) and math.isinf(hi) else (lo, hi),
                velocity_limit=min(c_vel, j.velocity_limit),
                effort_limit=0.0 if math.isinf(eff) else eff,
            )
        )
    new_acts: list[ActuatorSpec] = []
    for a in robot.actuators:
        if a.name not in card_efforts:
            raise PolicyContractError(
                f"{where}: field 'robot.actuators' has no actuator '{a.name}' of {robot.yaml_path}; "
                "re-export the policy"
            )
        i, c = card_efforts[a.name]
        unit = _UNITS[robot.joint(a.joint).type][2]
        if c != a.effort_limit:
            uses.append(
                LimitUse(
                    f"actuator '{a.name}'",
                    "effort_limit",
                    c,
                    a.effort_limit,
                    unit,
                    f"robot.actuators[{i}].effort_limit",
                    a.effort_limit > c * (1 + margin),
                )
            )
        new_acts.append(dataclasses.replace(a, effort_limit=min(c, a.effort_limit)))
    wider = tuple(u for u in uses if u.wider)
    if wider and not allow_wider:
        u = wider[0]
        more = f" (and {len(wider) - 1} more)" if len(wider) > 1 else ""
        raise PolicyContractError(
            f"{where}: {robot.yaml_path} gives {u.owner} {u.field} {_fmt(u.robot)} {u.unit}, wider than the "
            f"{_fmt(u.card)} {u.unit} the policy was trained with ('{u.card_field}' in policy.json) by more than "
            f"{margin:.0%}{more}; correct robot.yaml, or pass {FLAG} to drive with the policy's limits"
        )
    effective = dataclasses.replace(robot, joints=tuple(new_joints), actuators=tuple(new_acts))
    return LimitsContract(effective, tuple(uses), wider)
