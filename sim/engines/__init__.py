"""Physics engines behind one protocol (`sim.engines.base.Engine`).

Backends are imported lazily so that `import sim` costs nothing and a deploy machine without
pybullet can still use MuJoCo, and vice versa.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sim.engines.base import Engine
    from sim.motor_model import TorqueModel
    from sim.params import ParamsLike
    from sim.robot import RobotSpec
    from sim.terrain import Terrain

ENGINES = ("mujoco", "pybullet")


def make_engine(robot: RobotSpec | str, engine: str = "mujoco", params: ParamsLike = None, *,
                torque_model: TorqueModel | None = None, terrain: Terrain | None = None) -> Engine:
    """Create a simulated robot in `engine` with `params` (file, mapping, or None for nominal).

    `torque_model`: drives computed by the engine every physics step instead of the PD servo (a motor
    model or an actuator network, sim/motor_model.py); MuJoCo only.
    """
    from sim.params import resolve_params
    from sim.robot import RobotSpec, load_robot

    spec = robot if isinstance(robot, RobotSpec) else load_robot(robot)
    values = resolve_params(spec, params)
    if engine == "mujoco":
        from sim.engines.mujoco import MujocoEngine

        return MujocoEngine(spec, values, torque_model, terrain)
    if torque_model is not None:
        from sim.errors import ConfigError

        raise ConfigError("--engine", "", f"the {torque_model.name} runs in the MuJoCo engine only, not '{engine}'; "
                          "pass --engine mujoco")
    if engine == "pybullet":
        from sim.engines.pybullet import PybulletEngine

        return PybulletEngine(spec, values, terrain)
    raise ValueError(f"unknown engine '{engine}'; expected one of {', '.join(ENGINES)}")
