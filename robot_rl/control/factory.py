"""Which model-based controller drives which task, with the settings measured to work here.

A task belongs to a family by what it asks of the robot (its id, or the task an alias names):

| family  | tasks (aliases)                     | lqr                             | mpc                             |
| ------- | ----------------------------------- | ------------------------------- | ------------------------------- |
| balance | PoleBalance-v0 (CartpoleBalance-v0) | LQR at upright                  | dual mode (MPC + LQR, upright)  |
| swingup | PoleSwingup-v0 (CartpoleSwingup-v0) | refused: an LQR cannot swing up | dual mode (MPC + LQR, upright)  |
| reach   | Reach-v0 (IiwaReach-v0)             | LQR hold of the goal's IK pose  | MPPI on the task's reward terms |

Settings (measured on this 2-core machine, see docs/model-based-control.md):

* swing-up MPC: predictive sampling, 16 samples x 1 s (50 steps), 8 knots, noise 0.3 of the force
  range, planning physics at 10 ms (2 substeps per 20 ms period; the robot's 5 ms costs twice as
  much for the same plan). The LQR of the same model (at the robot's own 5 ms) takes over inside
  z'Pz < 700.
* reach MPC: MPPI (temperature 0.2), 32 samples x 0.5 s (25 steps), 4 knots, noise 0.15, planning
  physics at 20 ms, one step per period (the iiwa's robot.yaml step is 1 ms: 20 substeps a period
  would cost 20x; at 10 ms the reach succeeded as often, 19 of 20 on the hidden gap, at twice the
  compute). 48 samples reached 20 of 20 but their p99 passed the period under this machine's load.
* both planners solve constraints with PGS (`PlanningModel` ``pgs``): 30% cheaper, same motion.

Every setting can be overridden (`MpcSettings` fields), e.g. ``samples`` and ``horizon`` from the CLI.
``dynamics_model`` among the overrides (`--dynamics-model FILE`): the pole tasks' MPC plans with that
learned model (`robot_rl.control.learned`) instead of MuJoCo; the LQR of dual mode keeps the MuJoCo model.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from robot_rl.control.model import PlanningModel
from robot_rl.control.mpc import MpcSettings
from robot_rl.errors import RobotRLError
from sim.params import ParamsLike
from sim.robot import RobotSpec

__all__ = ["CONTROLLERS", "build_controller", "task_family"]

CONTROLLERS = ("lqr", "mpc")
# By task by kind; an alias (IiwaReach-v0) is found through the task it names (`alias_of` in the registry).
FAMILIES = {"PoleBalance-v0": "balance", "PoleSwingup-v0": "swingup", "Reach-v0": "reach"}
SUPPORTED = {"lqr": ("balance", "reach"), "mpc": ("balance", "swingup", "reach")}

SWINGUP_MPC = MpcSettings(horizon=1.0, samples=16, knots=8, noise=0.3, temperature=0.0)
SWINGUP_PLAN_DT = 0.01
REACH_MPC = MpcSettings(horizon=0.5, samples=32, knots=4, noise=0.15, temperature=0.2)
REACH_PLAN_DT = 0.02


def task_family(task: str) -> str | None:
    """'balance' | 'swingup' | 'reach' for the tasks a model-based controller can do, else None."""
    from sim.tasks.registry import task_spec

    spec = task_spec(task)
    return FAMILIES.get(spec.alias_of or spec.id)


def check_supported(kind: str, task: str) -> str:
    """The task's family, or a one-line error naming what `kind` can drive."""
    if kind not in CONTROLLERS:
        raise RobotRLError(f"unknown controller '{kind}'; expected one of {', '.join(CONTROLLERS)}")
    try:
        family = task_family(task)
    except ValueError as exc:  # an unknown task id: the registry's message lists the known ones
        raise RobotRLError(str(exc)) from exc
    if family not in SUPPORTED[kind]:
        tasks = sorted(t for t, f in FAMILIES.items() if f in SUPPORTED[kind])
        hint = " (an LQR only regulates about an operating point: use --controller mpc for the swing-up)" \
            if kind == "lqr" and family == "swingup" else ""
        raise RobotRLError(f"--controller {kind} does not drive task '{task}'{hint}; it drives {', '.join(tasks)} "
                           "(and their aliases)")
    return family


def build_controller(kind: str, task: str, robot: RobotSpec, model_params: ParamsLike = None,
                     mpc: dict[str, Any] | None = None) -> Any:
    """A model-based controller for `task` on `robot`, planning with `model_params` (None: nominal; a
    params file such as a sysid's calib/params.yaml). ``mpc``: `MpcSettings` fields to override.

    The controller has ``reset(q)``, ``command(q, qd, goal) -> command`` (robot.yaml actuator units),
    ``describe()``, ``timings`` and ``timing_summary()``.
    """
    family = check_supported(kind, task)
    _check_robot(task, robot)
    overrides = {k: v for k, v in (mpc or {}).items() if v is not None}
    dynamics = overrides.pop("dynamics_model", None)
    if dynamics is not None and (kind != "mpc" or family not in ("balance", "swingup")):
        raise RobotRLError(f"--dynamics-model plans the cart-pole tasks with --controller mpc; not --controller {kind} "
                           f"on task '{task}' (drop --dynamics-model)")
    if family in ("balance", "swingup"):
        return _pole(kind, robot, model_params, overrides, dynamics)
    return _reach(kind, task, robot, model_params, overrides)


def _check_robot(task: str, robot: RobotSpec) -> None:
    """The task can drive this robot (the registry's words if not: a cart-pole task on an arm, ...)."""
    try:
        from sim.tasks.registry import resolve_robot
    except ImportError:  # the registry before tasks by kind: every task had its one robot
        from sim.observations import TASK_ROBOTS

        want = TASK_ROBOTS.get(task.removeprefix("robot_rl/"))
        if want is not None and want != robot.name:
            raise RobotRLError(f"task '{task}' drives robot '{want}', not '{robot.name}' ({robot.yaml_path})") from None
        return
    resolve_robot(task.removeprefix("robot_rl/"), robot)


def _pole(kind: str, robot: RobotSpec, params: ParamsLike, overrides: dict[str, Any], dynamics: Any = None) -> Any:
    from robot_rl.control.lqr import LqrController

    upright = np.zeros(len(robot.joints))
    lqr = LqrController(PlanningModel(robot, params), upright)
    if kind == "lqr":
        return lqr
    from robot_rl.control.costs import swingup_cost
    from robot_rl.control.dual_mode import DualMode
    from robot_rl.control.mpc import SamplingMpc

    planner = PlanningModel(robot, params, physics_dt=_plan_dt(robot, SWINGUP_PLAN_DT), pgs=True)
    settings = replace(SWINGUP_MPC, **overrides)
    if dynamics is not None:
        from robot_rl.control.learned import LearnedModelMpc, load_dynamics

        mpc = LearnedModelMpc(planner, load_dynamics(dynamics, planner), swingup_cost(planner), settings, str(dynamics))
        return DualMode(mpc, lqr)
    return DualMode(SamplingMpc(planner, swingup_cost(planner), settings), lqr)


def _reach(kind: str, task: str, robot: RobotSpec, params: ParamsLike, overrides: dict[str, Any]) -> Any:
    if robot.end_effector is None:
        raise RobotRLError(f"robot '{robot.name}' ({robot.yaml_path}) names no end_effector; task '{task}' "
                           "reaches with it")
    if kind == "lqr":
        from robot_rl.control.arm import ReachLqr

        return ReachLqr(PlanningModel(robot, params, extra_sites=(robot.end_effector,)), _home(task, robot))
    from robot_rl.control.costs import reach_cost
    from robot_rl.control.mpc import SamplingMpc

    planner = PlanningModel(robot, params, extra_sites=(robot.end_effector,),
                            physics_dt=_plan_dt(robot, REACH_PLAN_DT), pgs=True)
    return SamplingMpc(planner, reach_cost(), replace(REACH_MPC, **overrides), needs_goal=True)


def _plan_dt(robot: RobotSpec, wanted: float) -> float:
    """The planning physics step: `wanted` where it divides the control period and is no finer than the
    robot's own step, else the robot's own."""
    n = robot.control_dt / wanted
    if wanted >= robot.physics_dt and abs(n - round(n)) < 1e-9:
        return wanted
    return robot.physics_dt


def _home(task: str, robot: RobotSpec) -> np.ndarray:
    """The task's home pose for this robot (where the arm starts), else the middle of the joint ranges."""
    try:
        from sim.tasks.registry import bind_task

        home = bind_task(task, robot)[0].config.get("home")
    except (ImportError, ValueError, KeyError):
        home = None
    if home is not None:
        return np.asarray(home, dtype=float)
    return np.array([0.5 * sum(j.position_limits) if j.position_limits else 0.0 for j in robot.joints])
