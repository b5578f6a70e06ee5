"""The model a model-based controller plans with: the robot's MuJoCo model under a params file.

Why the engine's own model: `sim.engines.mujoco.build_spec` is how training and the sim robot
realize the robot (URDF, native actuators in robot.yaml units, the same integrator and substeps), and
`ModelParamWriter` writes a params file's values (nominal, or what `robot-rl sysid` fitted into
calib/params.yaml) the way the engine does. A controller built on it plans with exactly the physics a
policy was trained on, calibrated or not; the plant it runs on (a robot, a sim robot with a hidden
gap) is another matter, which is the point of the exercise.

One control step is ``substeps`` physics steps with the command held, delayed by ``action_delay``
as `sim.actuators.ActionDelay` realizes it: at substep s the active command is the one issued
``lag[s]`` control steps ago (0 = this step's). Both the linearization (`control_step_jacobians`) and
the sampling planner (`robot_rl.control.mpc`) use that map, so a calibrated 15 ms delay is part of the
model each controller designs with, not a surprise to it.

Needs the `mujoco` package: imported when a model is built (a deploy machine running only policies
never imports it), with a one-line error saying what to install if it is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.errors import RobotRLError
from sim.actuators import delay_lags
from sim.params import ParamsLike, resolve_params
from sim.robot import RobotSpec

__all__ = ["PlanningModel", "require_mujoco"]


def require_mujoco() -> Any:
    """The `mujoco` module (with `mujoco.rollout`), or a one-line error saying how to get it."""
    try:
        import mujoco
        import mujoco.rollout  # noqa: F401  (the sampling planner's batched stepping)
    except ImportError as exc:
        raise RobotRLError(
            f"model-based controllers (--controller lqr|mpc) plan with MuJoCo, which is not importable here "
            f"({exc}); install it on this machine (pip install mujoco) or deploy an exported policy instead"
        ) from exc
    return mujoco


class PlanningModel:
    """A fixed-base robot's MjModel with ``params`` written in, and its control-step map.

    ``params``: None (the robot.yaml/URDF nominal values) or a params file / mapping in the parameter
    vocabulary (a sysid's calib/params.yaml). ``extra_sites``: links whose world position the rollouts
    should report (a framepos sensor each, e.g. the end effector for a reach cost). ``physics_dt``: a
    coarser physics step than robot.yaml's for a sampling planner (it must divide the control period):
    the planner's rollouts then cost proportionally less, at the price of integration error the
    receding horizon corrects every period; None keeps the robot's own (the LQR always linearizes that).
    ``pgs``: solve the constraints (joint limits, dry friction) with MuJoCo's PGS solver instead of
    Newton: the same solution here (the iiwa's calibrated friction: final joints equal to 4 digits
    after 0.5 s) at 7.7 instead of 10.9 us a step, which a sampling planner pays thousands of times
    a period.

    State is (qpos, qvel) of the robot's joints in robot.yaml order; the control is the actuator command
    in robot.yaml units (N or N*m for a force actuator, a target position for a position servo).
    """

    def __init__(self, robot: RobotSpec, params: ParamsLike = None, extra_sites: tuple[str, ...] = (),
                 physics_dt: float | None = None, pgs: bool = False):
        if robot.base is not None:
            raise RobotRLError(
                f"robot '{robot.name}' ({robot.yaml_path}) has a floating base; the model-based controllers "
                "here are for fixed-base robots (the cart-pole, arms); deploy a policy for a legged robot"
            )
        mujoco = require_mujoco()
        from sim.engines.mujoco import ModelParamWriter, build_spec

        self.mujoco = mujoco
        self.robot = robot
        self.params_source = "nominal" if params is None else (str(params) if isinstance(params, (str, Path))
                                                                 else "mapping")
        self.params = resolve_params(robot, params)
        spec = build_spec(robot)
        for link in extra_sites:
            sens = spec.add_sensor()
            sens.name, sens.type = f"{link}_pos", mujoco.mjtSensor.mjSENS_FRAMEPOS
            sens.objtype, sens.objname = mujoco.mjtObj.mjOBJ_XBODY, link
        if physics_dt is not None:
            substeps = robot.control_dt / physics_dt
            if physics_dt <= 0 or abs(substeps - round(substeps)) > 1e-6 or round(substeps) < 1:
                raise RobotRLError(f"planning physics step {physics_dt:g} s must divide robot '{robot.name}''s "
                                   f"control period {robot.control_dt:g} s")
            spec.option.timestep = physics_dt
        if pgs:
            spec.option.solver = mujoco.mjtSolver.mjSOL_PGS
        self.model = spec.compile()
        ModelParamWriter(self.model, robot).apply(self.model, self.params)
        self.data = mujoco.MjData(self.model)
        m = self.model
        if m.nq != m.nv or m.nq != len(robot.joints):
            raise RobotRLError(f"robot '{robot.name}': expected one qpos and one dof per robot.yaml joint "
                               f"(got nq={m.nq}, nv={m.nv} for {len(robot.joints)} joints)")
        jid = [m.joint(j.name).id for j in robot.joints]
        self.qadr = np.array([m.jnt_qposadr[i] for i in jid])
        self.vadr = np.array([m.jnt_dofadr[i] for i in jid])
        aid = [m.actuator(a.name).id for a in robot.actuators]
        if aid != list(range(m.nu)):
            raise RobotRLError(f"robot '{robot.name}': MuJoCo's actuator order differs from robot.yaml's")
        self.nq, self.nv, self.nu = m.nq, m.nv, m.nu
        self.physics_dt = float(m.opt.timestep)
        self.substeps = int(round(robot.control_dt / self.physics_dt))
        self.control_dt = robot.control_dt
        self.delay = float(self.params["action_delay"])
        self.lags = delay_lags(self.delay, self.physics_dt, self.substeps)
        self.history = int(self.lags.max())  # past commands still in flight at the start of a step
        self.site_names = tuple(extra_sites)
        self.state_bits = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self.nstate = mujoco.mj_stateSize(m, self.state_bits)
        self.effort_limits = np.array([a.effort_limit for a in robot.actuators])
        self.position_actuators = np.array([a.type == "position" for a in robot.actuators])

    # -- states ---------------------------------------------------------------------------------
    def set_state(self, q: np.ndarray, qd: np.ndarray, data: Any = None) -> Any:
        """Write joint positions/velocities into ``data`` (default: the model's own) at time 0."""
        d = self.data if data is None else data
        self.mujoco.mj_resetData(self.model, d)
        d.qpos[self.qadr] = q
        d.qvel[self.vadr] = qd
        self.mujoco.mj_forward(self.model, d)
        return d

    def full_state(self, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        """The mjSTATE_FULLPHYSICS vector of (q, qd) at rest otherwise: a rollout's initial state."""
        d = self.set_state(q, qd)
        out = np.empty(self.nstate)
        self.mujoco.mj_getState(self.model, d, out, self.state_bits)
        return out

    def state_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """Columns of q and qd in a FULLPHYSICS state row (its first entry is the time)."""
        return 1 + self.qadr, 1 + self.nq + self.vadr

    # -- one control step -------------------------------------------------------------------------
    def control_step(self, q: np.ndarray, qd: np.ndarray, u: np.ndarray,
                     past: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(q, qd) one control step later, command ``u`` issued now and ``past[l-1]`` issued l steps ago."""
        d = self.set_state(q, qd)
        for s in range(self.substeps):
            lag = self.lags[s]
            d.ctrl[:] = u if lag == 0 else (past[lag - 1] if past is not None else u)
            self.mujoco.mj_step(self.model, d)
        return d.qpos[self.qadr].copy(), d.qvel[self.vadr].copy()

    def control_step_jacobians(self, q: np.ndarray, qd: np.ndarray, u: np.ndarray, *, smooth: bool = True,
                               eps: float = 1e-6) -> tuple[np.ndarray, list[np.ndarray]]:
        """The linearized control step about (q, qd) with ``u`` issued now and in every past step.

        Returns (A, [B_0, B_1, ..., B_L]): x' = A x + sum_l B_l u_{k-l}, x = (q, qd) deviations in
        robot.yaml joint order, B_l the effect of the command issued l steps ago (L = `history`).

        Composed exactly from MuJoCo's per-substep Jacobians (`mjd_transitionFD`, centred) along the
        substep trajectory (chain rule): A = A_{S-1} ... A_0, and B_l sums A_{S-1}...A_{s+1} B_s over
        the substeps s whose active command was issued l steps ago. At an equilibrium every A_s is the
        same and A = A_s^S. ``smooth``: linearize with the joints' dry friction (frictionloss) removed:
        Coulomb friction has no derivative at rest, and finite differences across it return an
        arbitrary huge damping; the controller then treats it as an unmodelled disturbance.
        """
        mujoco, m = self.mujoco, self.model
        saved = m.dof_frictionloss.copy()
        if smooth:
            m.dof_frictionloss[:] = 0.0
        try:
            d = self.set_state(q, qd, mujoco.MjData(m))
            n = 2 * self.nv
            A_s = np.zeros((n, n))
            B_s = np.zeros((n, self.nu))
            perm = np.concatenate([self.qadr, self.nv + self.vadr])  # MuJoCo's tangent order -> joint order
            A = np.eye(n)
            Bs = [np.zeros((n, self.nu)) for _ in range(self.history + 1)]
            for s in range(self.substeps):
                d.ctrl[:] = u
                mujoco.mjd_transitionFD(m, d, eps, True, A_s, B_s, None, None)
                As, Bs_ = A_s[np.ix_(perm, perm)], B_s[perm]
                A = As @ A
                for l_ in range(len(Bs)):
                    Bs[l_] = As @ Bs[l_]
                Bs[self.lags[s]] += Bs_
                mujoco.mj_step(m, d)
        finally:
            m.dof_frictionloss[:] = saved
        return A, Bs

    def equilibrium_command(self, q: np.ndarray) -> np.ndarray:
        """The command that holds the joints still at ``q`` (gravity compensation), robot.yaml units.

        From inverse dynamics (`mj_inverse`: the generalized force needed for zero acceleration at zero
        velocity, passive forces included). A force actuator supplies it as gain * u; a PD servo as
        gain * kp * (u - q), so its target sits ahead of ``q`` by force / (gain * kp). A joint without an
        actuator must need no force (the cart-pole's hinge at upright or hanging); a command beyond an
        effort limit is an error: the robot cannot hold that pose.
        """
        mujoco, m = self.mujoco, self.model
        d = self.set_state(q, np.zeros(self.nv), mujoco.MjData(m))
        d.qacc[:] = 0.0
        mujoco.mj_inverse(m, d)
        force = d.qfrc_inverse[self.vadr]
        u = np.zeros(self.nu)
        actuated = self.robot.actuator_joint_indices()
        for i, (act, j) in enumerate(zip(self.robot.actuators, actuated, strict=True)):
            gain = self.params[f"{act.name}.gain"]
            if abs(force[j]) > act.effort_limit:
                raise RobotRLError(f"robot '{self.robot.name}': holding joint '{act.joint}' at {q[j]:.3f} needs "
                                   f"{force[j]:.3g}, past its effort limit {act.effort_limit:g}")
            if act.type == "force":
                u[i] = force[j] / gain
            else:
                u[i] = q[j] + force[j] / (gain * self.params[f"{act.name}.kp"])
        passive = np.setdiff1d(np.arange(self.nv), actuated)
        if len(passive) and np.max(np.abs(force[passive])) > 1e-6:
            names = [self.robot.joints[j].name for j in passive]
            raise RobotRLError(f"robot '{self.robot.name}': the passive joint(s) {names} cannot be held at "
                               f"{q.tolist()} (they need {force[passive].tolist()}); pick an equilibrium")
        return u

    def command_limits(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(low, high, most change per period) of each actuator's command as the SafetyFilter bounds it:
        a force actuator's effort limit; a position target's joint limits and rate limit."""
        robot = self.robot
        lo, hi = np.full(self.nu, -np.inf), np.full(self.nu, np.inf)
        for i, a in enumerate(robot.actuators):
            if a.type == "force":
                lo[i], hi[i] = -a.effort_limit, a.effort_limit
            else:
                limits = robot.joint(a.joint).position_limits
                if limits is not None:
                    lo[i], hi[i] = limits
        return lo, hi, np.array(robot.target_max_change())

    def describe(self) -> str:
        delay = f", action_delay {1e3 * self.delay:g} ms ({self.history} step(s) in flight)" if self.delay else ""
        return f"MuJoCo model of '{self.robot.name}', params {self.params_source}{delay}"
