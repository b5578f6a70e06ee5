"""MuJoCo's batched stepping: N MjModels advanced together by the threaded `mujoco.rollout`.

Every robot has its own MjModel (so domain randomization differs per robot) and the whole batch
advances one control step (all substeps, delayed commands laid out per substep) in one rollout call:
per-call overhead is 35-95 us on this machine (docs: PITFALLS.md), so one call per substep, or a
Python loop of `mj_step`, costs more at N >= 4. IMU, contact and actuator readings come back as
sensordata. A `sim.engines.batch.BatchEngine`; `sim.engines.batch.make_batch` chooses it.
"""

from __future__ import annotations

import copy

import mujoco
import mujoco.rollout
import numpy as np

from sim.engines.mujoco import (
    ModelParamWriter,
    ModelViews,
    SensorLayout,
    _as_slice,
    build_spec,
    default_base,
    direct_torque,
    state_from_arrays,
)
from sim.motor_model import TorqueModel
from sim.robot import RobotSpec
from sim.state import BaseState, RobotState
from sim.terrain import Terrain


class MujocoRollout:
    """N MuJoCo models stepped together with mujoco.rollout (one call per control step); see `BatchEngine`."""

    def __init__(self, robot: RobotSpec, base_params: dict[str, float], n: int, nthread: int,
                 torque_model: TorqueModel | None = None, terrain: Terrain | None = None):
        self.mujoco = mujoco
        self.robot = robot
        # Drives computed here every physics step (sim/motor_model.py): one rollout call per substep.
        self.law = torque_model.law(n) if torque_model is not None else None
        base = build_spec(robot, terrain).compile()
        self.models = [copy.copy(base) for _ in range(n)]
        self.writer = ModelParamWriter(base, robot)
        self.views = [ModelViews(m) for m in self.models]
        self.scratch = mujoco.MjData(base)
        self.datas = [mujoco.MjData(base) for _ in range(nthread)]
        self.runner = mujoco.rollout.Rollout(nthread=nthread)
        self.bits = mujoco.mjtState.mjSTATE_FULLPHYSICS
        nstate = mujoco.mj_stateSize(base, self.bits)
        jid = [base.joint(j.name).id for j in robot.joints]
        self.qadr = np.array([base.jnt_qposadr[i] for i in jid])
        self.vadr = np.array([base.jnt_dofadr[i] for i in jid])
        self.qpos_idx, self.qvel_idx = 1 + self.qadr, 1 + base.nq + self.vadr
        # Episode resets write the joints through the scratch MjData's arrays: views made once, slices
        # where the joints are contiguous (each attribute read and fancy index costs ~0.2 us, several per reset).
        self._scratch_qpos, self._scratch_qvel = self.scratch.qpos, self.scratch.qvel
        self._qset, self._vset = _as_slice(self.qadr), _as_slice(self.vadr)
        self._qget, self._vget = _as_slice(self.qpos_idx), _as_slice(self.qvel_idx)  # columns of the state rows
        self.state_now = np.zeros((n, nstate))
        self.out = np.zeros((n, robot.substeps, nstate))
        # The state mj_resetData leaves (time 0, qpos0, ...): it depends on no parameter DR writes, so a
        # fixed-base robot's reset is this row with its joints written in, without the two MuJoCo calls.
        mujoco.mj_resetData(base, self.scratch)
        self._reset_state = np.zeros(nstate)
        mujoco.mj_getState(base, self.scratch, self._reset_state, self.bits)
        self.chunk = max(1, n // nthread)
        self.floating = robot.base is not None
        if self.floating:
            free = base.body(robot.base.link).jntadr[0]
            qa, va = base.jnt_qposadr[free], base.jnt_dofadr[free]
            self.base_qpos_idx = 1 + qa + np.arange(7)
            self.base_qvel_idx = 1 + base.nq + va + np.arange(6)
            self.layout = SensorLayout(robot)
            self.sens = np.zeros((n, base.nsensordata))
            self.sens_out = np.zeros((n, robot.substeps, base.nsensordata))
            self.default_base = default_base(robot)
        if self.law is not None:
            self.out1 = np.zeros((n, 1, nstate))
            self.sens1 = np.zeros((n, 1, base.nsensordata)) if self.floating else None
        for i in range(n):
            self.set_params(i, base_params)

    def set_params(self, i: int, params: dict[str, float]) -> None:
        self.writer.apply(self.models[i], params, self.views[i])
        if self.law is not None:
            self.law.set_params(i, params)
            direct_torque(self.models[i])

    def reset(self, i: int, q: np.ndarray, qd: np.ndarray, base: BaseState | None = None) -> None:
        if self.law is not None:
            self.law.reset(i, np.asarray(q, dtype=float))
        if not self.floating:
            row = self.state_now[i]
            row[:] = self._reset_state
            row[self._qget], row[self._vget] = q, qd
            return
        m, d, mj = self.models[i], self.scratch, self.mujoco
        mj.mj_resetData(m, d)
        self._scratch_qpos[self._qset] = q
        self._scratch_qvel[self._vset] = qd
        b = self.default_base if base is None else base  # at rest: mj_resetData zeroed the velocities
        d.qpos[self.base_qpos_idx[:3] - 1], d.qpos[self.base_qpos_idx[3:] - 1] = b.position, b.orientation
        mj.mj_forward(m, d)  # sensors of the initial state
        self.sens[i] = d.sensordata
        mj.mj_getState(m, d, self.state_now[i], self.bits)

    def step(self, control: np.ndarray) -> None:
        if self.law is not None:
            self._step_with_law(control)
            return
        if control.shape[1] != self.robot.substeps:  # the same command for every substep
            control = np.broadcast_to(control, (control.shape[0], self.robot.substeps, control.shape[2]))
        self.runner.rollout(self.models, self.datas, self.state_now, np.ascontiguousarray(control),
                            control_spec=self.mujoco.mjtState.mjSTATE_CTRL, skip_checks=True,
                            nstep=self.robot.substeps, state=self.out,
                            sensordata=self.sens_out if self.floating else None, chunk_size=self.chunk)
        self.state_now[:] = self.out[:, -1]
        if self.floating:
            self.sens[:] = self.sens_out[:, -1]

    def _step_with_law(self, control: np.ndarray) -> None:
        """One control step, physics step by physics step: the drives' torques from each step's state."""
        s, law = self.state_now, self.law
        for k in range(self.robot.substeps):
            command = control[:, k if control.shape[1] > 1 else 0]
            tau = law.torques(command, s[:, self._qget], s[:, self._vget])
            self.runner.rollout(self.models, self.datas, s, np.ascontiguousarray(tau[:, None, :]),
                                control_spec=self.mujoco.mjtState.mjSTATE_CTRL, skip_checks=True, nstep=1,
                                state=self.out1, sensordata=self.sens1, chunk_size=self.chunk)
            s[:] = self.out1[:, 0]
        if self.floating:
            self.sens[:] = self.sens1[:, 0]

    def step_one(self, command: list[float]) -> None:
        if len(self.models) != 1:
            raise ValueError(f"step_one steps a batch of one; this one has {len(self.models)} robots (use step)")
        self.step(np.asarray(command, dtype=np.float64).reshape(1, 1, -1))

    def state(self) -> RobotState:
        s = self.state_now
        q, qd = s[:, self._qget].copy(), s[:, self._vget].copy()  # = the fancy index's copy, at half its cost
        if not self.floating:
            return RobotState(self.robot.joint_names, q, qd)
        return state_from_arrays(self.robot, self.layout, q, qd, None, s[:, self.base_qpos_idx],
                                 s[:, self.base_qvel_idx], self.sens)

    def kick(self, i: int, dqd: np.ndarray) -> None:
        self.state_now[i, self._vget] += dqd  # a slice where the joints are contiguous: no fancy read-modify-write

    def kick_base(self, i: int, dv: np.ndarray) -> None:
        self.state_now[i, self.base_qvel_idx[:3]] += dv

    def close(self) -> None:
        self.runner.close()


__all__ = ["MujocoRollout"]
