"""The arm's part of the demo: the reality gap a fixed-base arm's "real" robot has, when its folder
names none (demo.yaml). The arm runs the fixed-base loop (robot_rl.demo.fixed) with fine-tuning.

The gap is drawn from the arm class of issue 22 (link masses, a tool, damping, friction, latency),
sparse enough that a 20 s multisine identifies all of it (nine parameters on a 7-DoF arm, as the
iiwa's hand-picked gap in sim/robots/iiwa/demo.yaml), and derived from the robot's structure only:
* every other link from the third to the last but one 30% heavier; the last link carries a 0.5 kg tool;
* joints 2 and 4 (the shoulder and the elbow of a 6-7 DoF arm) three times their damping, or 15% of
  their servo's kd where the URDF gives none (the value `robots import` writes in robustness.yaml);
* joints 3, 5, 7, ... a Coulomb friction of 1 N*m (N on a prismatic joint), at most a tenth of their
  effort limit;
* 20 ms of command latency.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.robot import RobotSpec

MASS_SCALE = 1.3
TOOL_KG = 0.5
DAMPING_SCALE = 3.0
DAMPING_KD_FRACTION = 0.15  # where the URDF has none: as `robots import` writes the arm's robustness case
FRICTION = 1.0  # N*m (N), capped at FRICTION_EFFORT_FRACTION of the joint's effort limit
FRICTION_EFFORT_FRACTION = 0.1
DELAY_S = 0.02


def derive_gap(robot: RobotSpec) -> dict[str, Any]:
    """The arm's gap as a params mapping (absolute values, rounded to 4 significant digits)."""
    links, joints = robot.moving_links, robot.joints
    kd = {a.joint: a.kd for a in robot.actuators}
    gap: dict[str, Any] = {}
    for link in links[2:-1:2]:
        gap[f"{link}.mass"] = _round(robot.nominal[f"{link}.mass"] * MASS_SCALE)
    gap[f"{links[-1]}.mass"] = _round(robot.nominal[f"{links[-1]}.mass"] + TOOL_KG)
    for joint in joints[1:4:2]:
        nominal = robot.nominal[f"{joint.name}.damping"]
        damping = nominal * DAMPING_SCALE if nominal > 0 else DAMPING_KD_FRACTION * kd.get(joint.name, 0.0)
        if damping > 0:
            gap[f"{joint.name}.damping"] = _round(damping)
    for joint in joints[2::2]:
        gap[f"{joint.name}.frictionloss"] = _round(min(FRICTION, FRICTION_EFFORT_FRACTION * joint.effort_limit))
    gap["action_delay"] = DELAY_S
    return gap


def _round(value: float) -> float:
    return float(f"{value:.4g}")
