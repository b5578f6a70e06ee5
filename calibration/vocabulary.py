"""Which names of the parameter vocabulary a fit may ask for, with the bounds and scales it searches.

Bounds are wide on purpose (a fit should find a 3x error in a nominal value), physical (no
negative damping, no zero mass), and scaled from the robot, never from a round number that could
happen to be a plausible value (a [0, 1] N*m friction bound stopped the iiwa's 1 N*m joint
friction on the bound):

- masses, gains and kp: 0.2x to 5x the nominal value;
- friction of an actuated joint: up to FRICTION_OF_EFFORT x its actuator's effort limit
  (a harmonic drive loses a few percent of its peak torque to friction); damping up to
  DAMPING_OF_EFFORT x effort limit / velocity limit (the torque that would eat that share of the
  peak torque at full speed); always at least 10x the nominal value; a joint under a PD servo
  also at most the friction that would need FRICTION_MAX_SERVO_LAG of servo error to break away
  (kp x 0.2 rad: 5 N*m on the iiwa's wrist; the shoulder's 60 is above its 30 N*m effort cap):
  beyond it the joint is seized, the residual flat in the friction, and a solver that wanders
  there never returns (measured: joint 7 friction ran to 9.3 N*m and stayed, with a 30 N*m cap);
- passive joints (no actuator, no effort limit) fall back to max(10 x nominal, 1);
- action_delay: 0 to max(MAX_DELAY_S, 3 x nominal).

`obs_noise` is not a dynamics parameter: no least-squares residual depends on it, so it is
*estimated* from the post-fit residuals instead of fitted (see `calibration.identify`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from calibration.errors import FitError
from sim.patterns import is_pattern, match
from sim.robot import RobotSpec

ESTIMATED_NOT_FITTED = ("obs_noise",)
MAX_DELAY_S = 0.1


def kind(name: str) -> str:
    """The vocabulary kind of a name: mass, damping, frictionloss, armature, gain, kp, kd, action_delay, ..."""
    return name.rsplit(".", 1)[-1]


FRICTION_OF_EFFORT = 0.1
DAMPING_OF_EFFORT = 0.5
FRICTION_MAX_SERVO_LAG = 0.2  # rad: a PD joint whose friction needs more lag than this to move is seized


def _effort_scale(name: str, robot: RobotSpec | None) -> tuple[float, float] | None:
    """(effort limit, velocity limit) of the joint a damping/friction/armature/kd name belongs to, if driven."""
    if robot is None:
        return None
    base = name.rsplit(".", 1)[0]
    for a in robot.actuators:
        if base in (a.name, a.joint) and a.effort_limit > 0:
            return a.effort_limit, robot.joint(a.joint).velocity_limit
    return None


def _servo_stiffness(name: str, robot: RobotSpec) -> float | None:
    """gain * kp of the position servo driving a joint, if any (N*m per rad)."""
    base = name.rsplit(".", 1)[0]
    for a in robot.actuators:
        if base in (a.name, a.joint) and a.type == "position":
            return a.gain * a.kp
    return None


def bounds(name: str, nominal: float, robot: RobotSpec | None = None) -> tuple[float, float]:
    """Search interval for one parameter, from its kind, nominal value and (given `robot`) its actuator."""
    k = kind(name)
    if k == "action_delay":
        return 0.0, max(MAX_DELAY_S, 3.0 * nominal)
    if k in ("mass", "gain", "kp"):
        return 0.2 * nominal, 5.0 * nominal
    if k in ("damping", "frictionloss", "armature", "kd"):
        driven = _effort_scale(name, robot) if k != "armature" else None
        if driven is not None:
            effort, vlim = driven
            top = FRICTION_OF_EFFORT * effort if k == "frictionloss" else DAMPING_OF_EFFORT * effort / vlim
            servo = _servo_stiffness(name, robot)
            if k == "frictionloss" and servo is not None:
                top = min(top, FRICTION_MAX_SERVO_LAG * servo)
            if k == "kd":
                top = max(top, 5.0 * nominal)
            return 0.0, max(top, 10.0 * nominal)
        return 0.0, max(10.0 * nominal, 1.0 if k != "armature" else 0.1)
    raise FitError(f"parameter '{name}' has no search bounds; it is not a fittable dynamics parameter")


def scale(name: str, nominal: float, robot: RobotSpec | None = None) -> float:
    """A typical magnitude, so that the optimizer steps every parameter by comparable amounts."""
    lo, hi = bounds(name, nominal, robot)
    if kind(name) in ("damping", "frictionloss") and robot is not None:
        # the wide effort-scaled interval would make the step too coarse for a small friction
        return max(abs(nominal), 0.01 * (hi - lo), 1e-4)
    return max(abs(nominal), 0.05 * (hi - lo), 1e-3 if kind(name) == "action_delay" else 1e-4)


def check_fit_names(robot: RobotSpec, names: Sequence[str], start: Mapping[str, float]) -> list[str]:
    """Validate `--fit` names against the robot's vocabulary; return them without duplicates, in order."""
    if not names:
        raise FitError(f"nothing to fit; name parameters of robot '{robot.name}': {', '.join(robot.nominal)}")
    out: list[str] = []
    for n in names:
        hits = match(n, list(robot.nominal))  # glob patterns name groups: "*.gain", "*_lower_joint.kd"
        if not hits:
            what = "pattern matches no parameter" if is_pattern(n) else "unknown parameter"
            raise FitError(f"{what} '{n}' for robot '{robot.name}'; valid names: {', '.join(robot.nominal)}")
        out.extend(h for h in hits if h not in out)
    for n in out:
        if n in ESTIMATED_NOT_FITTED:
            continue
        lo, hi = bounds(n, robot.nominal[n], robot)
        if not lo <= start[n] <= hi:
            raise FitError(f"start value {n} = {start[n]:g} lies outside the search interval [{lo:g}, {hi:g}] "
                           "built around the robot's nominal value; correct the --params file or robot.yaml")
    return out
