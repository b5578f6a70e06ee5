"""Which names of the parameter vocabulary a fit may ask for, with the bounds and scales it searches.

Bounds are wide on purpose (a fit should find a 3x error in a nominal value), physical (no
negative damping, no zero mass), and scale-free where the nominal value allows it. `obs_noise`
is not a dynamics parameter: no least-squares residual depends on it, so it is *estimated* from
the post-fit residuals instead of fitted (see `calibration.identify`).
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


def bounds(name: str, nominal: float) -> tuple[float, float]:
    """Search interval for one parameter, from its kind and nominal value."""
    k = kind(name)
    if k == "action_delay":
        return 0.0, max(MAX_DELAY_S, 3.0 * nominal)
    if k in ("mass", "gain", "kp"):
        return 0.2 * nominal, 5.0 * nominal
    if k in ("damping", "frictionloss", "armature", "kd"):
        return 0.0, max(10.0 * nominal, 1.0 if k != "armature" else 0.1)
    raise FitError(f"parameter '{name}' has no search bounds; it is not a fittable dynamics parameter")


def scale(name: str, nominal: float) -> float:
    """A typical magnitude, so that the optimizer steps every parameter by comparable amounts."""
    lo, hi = bounds(name, nominal)
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
        lo, hi = bounds(n, robot.nominal[n])
        if not lo <= start[n] <= hi:
            raise FitError(f"start value {n} = {start[n]:g} lies outside the search interval [{lo:g}, {hi:g}] "
                           "built around the robot's nominal value; correct the --params file or robot.yaml")
    return out
