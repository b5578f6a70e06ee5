"""Batched stepping behind one protocol: N robots of one robot description, one control step at a time.

Why here and not in the episode core: how a batch advances is the engine's business (MuJoCo steps
a whole batch in one threaded `mujoco.rollout` call; PyBullet has no batched stepping and loops over
its single engines), and the core (sim/core.py) should read the same few calls whichever it is.

Two implementations:

* `EngineLoop` (here): one `sim.engines` engine per robot, stepped in a Python loop (PyBullet; and
  MuJoCo for small N, where a rollout call costs more than it saves).
* `sim.engines.mujoco_batch.MujocoRollout`: N MjModels (DR differs per robot) advanced together.

`make_batch` picks one. The batch does not realize `action_delay` itself: the caller hands
`step` the per-substep commands `sim.actuators.ActionDelay.control` laid out, and every engine of an
`EngineLoop` runs with its own delay at 0.
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np

from sim.actuators import ActionDelay, segments
from sim.engines import ENGINES
from sim.motor_model import TorqueModel
from sim.robot import RobotSpec
from sim.state import BaseState, RobotState
from sim.terrain import Terrain

ROLLOUT_MIN_ENVS = 4  # below this a Python loop over engines is faster than a rollout call


class BatchEngine(Protocol):
    """N simulated robots of one description, each with its own physical parameters.

    Rows are robots 0..N-1. Commands are physical (robot.yaml actuator order and units); states are
    in robot.yaml joint order with a leading batch dimension.
    """

    robot: RobotSpec

    def set_params(self, i: int, params: dict[str, float]) -> None:
        """Robot i's physical parameters (full vocabulary; its `action_delay` is ignored: see the module)."""

    def reset(self, i: int, q: np.ndarray, qd: np.ndarray, base: BaseState | None = None) -> None:
        """Robot i at joint state (q, qd), time 0; a floating base at `base` (default: at rest at its robot.yaml
        height above the origin; on a terrain the caller places it over the ground)."""

    def step(self, control: np.ndarray) -> None:
        """Every robot one control step: `control` is (N, S, n_act) per-substep commands, or (N, 1, n_act)
        for one command held over the whole step (what `ActionDelay.control` returns)."""

    def step_one(self, command: list[float]) -> None:
        """A batch of one: robot 0 holds `command` for the whole control step (the single env's hot path,
        the same physics as `step` with a (1, 1, n_act) control, without building one)."""

    def state(self) -> RobotState:
        """Every robot's state now, batched (joints; base, IMU and foot forces for a floating robot)."""

    def kick(self, i: int, dqd: np.ndarray) -> None:
        """An impulsive push of robot i: add `dqd` to its joint velocities."""

    def kick_base(self, i: int, dv: np.ndarray) -> None:
        """A push of robot i's floating base: add `dv` to its linear velocity (world frame, m/s)."""

    def close(self) -> None:
        """Release native resources."""


def make_batch(robot: RobotSpec, engine: str, base_params: dict[str, float], n: int, *,
               delay: ActionDelay | None = None, nthread: int | None = None,
               torque_model: TorqueModel | None = None, terrain: Terrain | None = None) -> BatchEngine:
    """N robots in `engine` with `base_params`: MuJoCo's rollout from ROLLOUT_MIN_ENVS robots, else a loop.

    `delay`: the caller's ActionDelay, read only to skip splitting the commands of robots it does not
    delay (a loop's fast path). `nthread`: rollout threads (default: up to 2, one below 8 robots).
    `torque_model`: drives computed every physics step instead of the PD servo (sim/motor_model.py).
    `terrain`: the ground of a floating robot (sim.terrain.make_terrain); None: a plane.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine '{engine}'; expected one of {', '.join(ENGINES)}")
    if engine == "mujoco" and n >= ROLLOUT_MIN_ENVS:
        from sim.engines.mujoco_batch import MujocoRollout

        nthread = nthread or min(os.cpu_count() or 1, 2 if n >= 8 else 1)
        return MujocoRollout(robot, base_params, n, nthread, torque_model, terrain)
    return EngineLoop(robot, engine, base_params, n, delay, torque_model, terrain)


class EngineLoop:
    """One engine per robot (any engine), stepped in a Python loop; see `BatchEngine`."""

    def __init__(self, robot: RobotSpec, engine: str, base_params: dict[str, float], n: int,
                 delay: ActionDelay | None = None, torque_model: TorqueModel | None = None,
                 terrain: Terrain | None = None):
        from sim.engines import make_engine

        self.engines = [make_engine(robot, engine, base_params, torque_model=torque_model, terrain=terrain)
                        for _ in range(n)]
        self.robot = robot
        self.joint_names = robot.joint_names  # properties that compute: read them once
        self.substeps = robot.substeps
        self.delay = delay

    def set_params(self, i: int, params: dict[str, float]) -> None:
        # The delay is realized by the caller's ActionDelay (the commands `step` gets), not the engine's.
        self.engines[i].set_params({**params, "action_delay": 0.0})

    def reset(self, i: int, q: np.ndarray, qd: np.ndarray, base: BaseState | None = None) -> None:
        if self.robot.base is not None:
            self.engines[i].reset(q, qd, base)
        else:
            self.engines[i].reset(q, qd)

    def step_one(self, command: list[float]) -> None:
        self.engines[0].run_substeps(command, self.substeps)

    def step(self, control: np.ndarray) -> None:
        S, delay = self.substeps, self.delay
        for i, engine in enumerate(self.engines):
            if control.shape[1] == 1 or (delay is not None and not delay.delayed(i)):  # one command: one call
                engine.run_substeps(control[i, 0], S)
            else:
                for cmd, k in segments(control[i]):
                    engine.run_substeps(cmd, k)

    def state(self) -> RobotState:
        if len(self.engines) == 1 and self.robot.base is None:  # the single env's hot path: no stacking
            q, qd = self.engines[0].joint_state()
            return RobotState(self.joint_names, q[None], qd[None])
        return RobotState.stack([e.state() for e in self.engines])

    def kick(self, i: int, dqd: np.ndarray) -> None:
        self.engines[i].apply_velocity_kick(dqd)

    def kick_base(self, i: int, dv: np.ndarray) -> None:
        self.engines[i].apply_base_velocity_kick(dv)

    def close(self) -> None:
        for e in self.engines:
            e.close()


__all__ = ["ROLLOUT_MIN_ENVS", "BatchEngine", "EngineLoop", "make_batch"]
