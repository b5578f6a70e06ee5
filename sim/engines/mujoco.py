"""MuJoCo backend: the robot's URDF compiled with its actuators realized natively.

Actuators become MuJoCo actuators (gain/bias parameters and a force range), so one control step
of many substeps is one `mj_step(..., nstep=N)` call into C, and `mujoco.rollout` can step a
whole batch of robots (see sim/vector.py). Parameters are written into the compiled model's
arrays, so changing them between episodes needs no recompilation.
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim.actuators import DelayLine
from sim.robot import RobotSpec


def build_spec(robot: RobotSpec) -> mujoco.MjSpec:
    """The robot as an MjSpec: URDF + native actuators + the physics options both engines share."""
    spec = mujoco.MjSpec.from_file(str(robot.urdf_path))
    spec.option.timestep = robot.physics_dt
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_EULER
    # Joint damping is integrated explicitly, as PyBullet (which gets it from our torque law) does.
    spec.option.disableflags |= mujoco.mjtDisableBit.mjDSBL_EULERDAMP
    if not robot.contacts:
        spec.option.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT
    spec.option.gravity = [0.0, 0.0, -9.81]
    for act in robot.actuators:
        a = spec.add_actuator()
        a.name = act.name
        a.target = act.joint
        a.trntype = mujoco.mjtTrn.mjTRN_JOINT
        a.gaintype = mujoco.mjtGain.mjGAIN_FIXED
        a.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        a.forcerange = [-act.effort_limit, act.effort_limit]
        a.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE
        if act.type == "force":
            a.biastype = mujoco.mjtBias.mjBIAS_NONE
        else:
            a.biastype = mujoco.mjtBias.mjBIAS_AFFINE
    return spec


def _set_actuator_params(gainprm: np.ndarray, biasprm: np.ndarray, robot: RobotSpec,
                         params: dict[str, float]) -> None:
    for i, act in enumerate(robot.actuators):
        gain = params[f"{act.name}.gain"]
        if act.type == "force":
            gainprm[i, 0] = gain
        else:
            kp, kd = params[f"{act.name}.kp"], params[f"{act.name}.kd"]
            gainprm[i, 0] = gain * kp
            biasprm[i, :3] = (0.0, -gain * kp, -gain * kd)


class ModelParamWriter:
    """Writes vocabulary values into a compiled MjModel's arrays (no recompile).

    Link inertia scales with mass, keeping the mass distribution (and so the centre of mass).
    """

    def __init__(self, model: mujoco.MjModel, robot: RobotSpec):
        self.robot = robot
        self.body_ids = [model.body(link).id for link in robot.moving_links]
        self.nominal_mass = model.body_mass[self.body_ids].copy()
        self.nominal_inertia = model.body_inertia[self.body_ids].copy()
        self.dof_ids = [model.jnt_dofadr[model.joint(j.name).id] for j in robot.joints]
        # One scratch MjData for mj_setConst: models sharing this writer have the same sizes, and
        # allocating an MjData per episode reset would cost more than the rest of the reset.
        self._scratch = mujoco.MjData(model)

    def apply(self, model: mujoco.MjModel, params: dict[str, float]) -> None:
        robot = self.robot
        for k, link in enumerate(robot.moving_links):
            mass = params[f"{link}.mass"]
            b = self.body_ids[k]
            ratio = mass / self.nominal_mass[k] if self.nominal_mass[k] > 0 else 1.0
            model.body_mass[b] = mass
            model.body_inertia[b] = self.nominal_inertia[k] * ratio
        for k, j in enumerate(robot.joints):
            d = self.dof_ids[k]
            model.dof_damping[d] = params[f"{j.name}.damping"]
            model.dof_frictionloss[d] = params[f"{j.name}.frictionloss"]
            model.dof_armature[d] = params[f"{j.name}.armature"]
        _set_actuator_params(model.actuator_gainprm, model.actuator_biasprm, robot, params)
        # Derived quantities (e.g. the constant part of the mass matrix) must follow the new values.
        mujoco.mj_setConst(model, self._scratch)


class MujocoEngine:
    """A robot in MuJoCo; see `sim.engines.base.Engine`."""

    name = "mujoco"

    def __init__(self, robot: RobotSpec, params: dict[str, float]):
        self.robot = robot
        self.spec = build_spec(robot)
        self.model = self.spec.compile()
        self.data = mujoco.MjData(self.model)
        self.writer = ModelParamWriter(self.model, robot)
        self.qpos_adr = np.array([self.model.jnt_qposadr[self.model.joint(j.name).id] for j in robot.joints])
        self.qvel_adr = np.array([self.model.jnt_dofadr[self.model.joint(j.name).id] for j in robot.joints])
        self.delay = DelayLine(len(robot.actuators), robot.substeps, robot.physics_dt)
        self.params: dict[str, float] = {}
        self.set_params(params)

    def set_params(self, params: dict[str, float]) -> None:
        self.params = dict(params)
        self.writer.apply(self.model, self.params)
        self.delay.set_delay(self.params["action_delay"])

    def reset(self, q: np.ndarray, qd: np.ndarray) -> None:
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[self.qpos_adr] = q
        self.data.qvel[self.qvel_adr] = qd
        mujoco.mj_forward(self.model, self.data)
        self.delay.reset()

    def step(self, command: np.ndarray) -> None:
        for cmd, n in self.delay.segments(command):
            self.data.ctrl[:] = cmd
            mujoco.mj_step(self.model, self.data, nstep=n)

    def apply_velocity_kick(self, dqd: np.ndarray) -> None:
        """An impulsive push: add joint velocity (used for random push disturbances)."""
        self.data.qvel[self.qvel_adr] += dqd

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self.data.qpos[self.qpos_adr].copy(), self.data.qvel[self.qvel_adr].copy()

    def actuator_forces(self) -> np.ndarray:
        """Forces the actuators applied at the last substep (after gain, bias and clipping)."""
        return self.data.actuator_force.copy()

    def link_position(self, link: str) -> np.ndarray:
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.xpos[self.model.body(link).id].copy()

    @property
    def time(self) -> float:
        return float(self.data.time)

    def close(self) -> None:
        pass
