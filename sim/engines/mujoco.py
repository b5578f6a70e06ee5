"""MuJoCo backend: the robot's URDF compiled with its actuators realized natively.

Actuators become MuJoCo actuators (gain/bias parameters and a force range), so one control step
of many substeps is one `mj_step(..., nstep=N)` call into C, and `mujoco.rollout` can step a
whole batch of robots (see sim/vector.py). Parameters are written into the compiled model's
arrays, so changing them between episodes needs no recompilation.
"""

from __future__ import annotations

import re

import mujoco
import numpy as np

from sim.actuators import DelayLine
from sim.engines.base import fixed_offset_quat
from sim.engines.heightfield import mujoco_floor
from sim.motor_model import TorqueModel
from sim.robot import RobotSpec
from sim.state import BaseState, ImuState, RobotState, quat_multiply, quat_rotate_inverse
from sim.terrain import Terrain

FLOOR = "floor"
IMU_SITE = "imu"


def _urdf_spec(robot: RobotSpec) -> mujoco.MjSpec:
    """The URDF as an MjSpec, one body per URDF link; a floating robot gets a free joint on its root link.

    MuJoCo merges a URDF's root link into the world body, so the free joint comes from the URDF
    convention for it: a `world` link and a `floating` joint to the root, added to the text.
    Static (fixed-joint) links stay bodies in every robot, fixed-base ones included
    (`fusestatic` off; MuJoCo's URDF default fuses them): every URDF link keeps its name and its own
    mass, as in PyBullet, so `<link>.mass` is that link's mass in both engines. Fused, the A1's
    0.06 kg feet became part of their calves, and writing the calf's URDF mass (0.166 kg) then
    dropped the foot while keeping the fused centre of mass: the suspended A1's calves had 27% too
    little inertia about the knee, and a fit of its motors blamed the gains.

    The text is `RobotSpec.engine_urdf_text()`, for every robot: mesh files absolute (`package://`
    URIs resolved by sim.packages; MuJoCo's URDF import knows no packages, and a string has no folder
    for relative names), joints robot.yaml does not list (grippers) fixed at their held position.
    """
    text = robot.engine_urdf_text()
    if robot.base is None:
        spec = mujoco.MjSpec.from_string(text)
        spec.compiler.fusestatic = False
        return spec
    m = re.search(r"<link\s+name\s*=\s*[\"']" + re.escape(robot.base.link) + r"[\"']", text)
    if m is None:  # robot.yaml validation found the link, so this is a formatting we do not parse
        raise ValueError(f"{robot.urdf_path}: cannot find <link name=\"{robot.base.link}\"> to add a free joint")
    text = (text[: m.start()] + '<link name="world"/><joint name="floating_base" type="floating">'
            f'<parent link="world"/><child link="{robot.base.link}"/></joint>\n' + text[m.start():])
    spec = mujoco.MjSpec.from_string(text)
    spec.compiler.fusestatic = False
    return spec


def _add_floor_and_sensors(spec: mujoco.MjSpec, robot: RobotSpec, terrain: Terrain | None = None) -> None:
    """Floor plane (or `terrain` as a heightfield: sim/engines/heightfield.py), IMU and contact sensors, joint efforts.

    The floor has priority, so its friction (`floor.friction`) is the friction of every contact.
    Sensors, in sensordata order: the IMU's accelerometer (3); a touch sensor per foot (contact
    normal force, N); a touch sensor on the base (a fall); each actuator's force. (The IMU's
    orientation and rate are the base's, through its fixed mount, as in PyBullet.)
    Touch sensors are what `mujoco.rollout` can return per robot, where `data.contact` is not.
    """
    base = robot.base
    assert base is not None
    floor = spec.worldbody.add_geom()
    floor.name = FLOOR
    floor.type = mujoco.mjtGeom.mjGEOM_PLANE
    floor.size = [0.0, 0.0, 1.0]
    floor.contype, floor.conaffinity, floor.priority = 0, 1, 1
    floor.friction = [base.floor_friction, 0.005, 0.0001]
    if terrain is not None:
        mujoco_floor(spec, floor, terrain)
    imu = spec.body(base.imu_link).add_site()
    imu.name = IMU_SITE
    sens = spec.add_sensor()
    sens.name, sens.type = "imu_acc", mujoco.mjtSensor.mjSENS_ACCELEROMETER
    sens.objtype, sens.objname = mujoco.mjtObj.mjOBJ_SITE, IMU_SITE
    touch_bodies = list(base.feet) + [base.link]
    for link in touch_bodies:
        body = spec.body(link)
        site = body.add_site()
        site.name = f"{link}_touch"
        geoms = body.geoms
        if link != base.link and geoms and geoms[0].type == mujoco.mjtGeom.mjGEOM_SPHERE:
            site.type, site.size = mujoco.mjtGeom.mjGEOM_SPHERE, [1.5 * geoms[0].size[0], 0, 0]
            site.pos = geoms[0].pos
        elif geoms and geoms[0].type == mujoco.mjtGeom.mjGEOM_BOX:
            site.type, site.size = mujoco.mjtGeom.mjGEOM_BOX, [1.05 * v + 0.005 for v in geoms[0].size]
            site.pos, site.quat = geoms[0].pos, geoms[0].quat
        else:
            site.type, site.size = mujoco.mjtGeom.mjGEOM_SPHERE, [0.04, 0, 0]
        sens = spec.add_sensor()
        sens.name, sens.type = f"{link}_touch", mujoco.mjtSensor.mjSENS_TOUCH
        sens.objtype, sens.objname = mujoco.mjtObj.mjOBJ_SITE, site.name
    for act in robot.actuators:
        sens = spec.add_sensor()
        sens.name, sens.type = f"{act.name}_force", mujoco.mjtSensor.mjSENS_ACTUATORFRC
        sens.objtype, sens.objname = mujoco.mjtObj.mjOBJ_ACTUATOR, act.name


class SensorLayout:
    """Where each reading of a floating robot lies in sensordata (see _add_floor_and_sensors)."""

    def __init__(self, robot: RobotSpec):
        n_feet = len(robot.base.feet) if robot.base else 0
        self.acc = slice(0, 3)
        self.feet = slice(3, 3 + n_feet)
        self.base_touch = 3 + n_feet
        self.force = slice(4 + n_feet, 4 + n_feet + len(robot.actuators))
        self.imu_offset = fixed_offset_quat(robot, robot.base.imu_link) if robot.base else np.array([1.0, 0, 0, 0])


def build_spec(robot: RobotSpec, terrain: Terrain | None = None) -> mujoco.MjSpec:
    """The robot as an MjSpec: URDF + native actuators + the physics options both engines share; a floating
    robot stands on `terrain` (sim/terrain.py) if given, else on a plane."""
    spec = _urdf_spec(robot)
    spec.option.timestep = robot.physics_dt
    if robot.integrator == "implicit":
        # Damping and the servos' kd at the end-of-step velocity, (M + dt D) qacc = f (sim.robot.INTEGRATORS);
        # PyBullet realizes the same step through its mass matrix.
        spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    else:
        spec.option.integrator = mujoco.mjtIntegrator.mjINT_EULER
        # Joint damping is integrated explicitly, as PyBullet (which gets it from our torque law) does.
        spec.option.disableflags |= mujoco.mjtDisableBit.mjDSBL_EULERDAMP
    if not robot.contacts:
        # Without contacts a fixed-base robot is one kinematic tree, so its constraints (joint limits,
        # friction loss) always form one island: island discovery is pure overhead (~12% of a cart-pole
        # substep) and skipping it gives bit-identical trajectories.
        spec.option.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONTACT | mujoco.mjtDisableBit.mjDSBL_ISLAND
    else:  # no self-collision (PyBullet's default): the robot's geoms only touch the floor, if any
        for g in spec.geoms:
            g.contype, g.conaffinity = 1, 0
    spec.option.gravity = [0.0, 0.0, -9.81]
    _hard_joint_constraints(spec, robot.physics_dt)
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
    if robot.base is not None:
        # Feet must not creep under a sustained sideways load (soft contacts do, with the default
        # impratio): elliptic friction cones and a high impratio, as MuJoCo's legged models use.
        spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
        spec.option.impratio = 100.0
        _add_floor_and_sensors(spec, robot, terrain)
    return spec


# Joint dry friction (`<joint>.frictionloss`) and joint limits as hard constraints, as PyBullet
# realizes them (a velocity motor with max force = frictionloss; its joint-limit constraint):
# impedance ~1 and the fastest time constant MuJoCo's refsafe allows (2 physics steps). MuJoCo's
# defaults (impedance 0.9-0.95, 20 ms) regularize both: a joint creeps where it should stick, and
# a limit gives way (the hanging A1's knee went 0.1 rad past its URDF limit where PyBullet's stops
# at it). On the suspended A1 with 0.2 N*m of friction that made the engines differ by 3-6 mrad RMS
# on the calves, and fits of the calf motors blamed the gains and damping; with these values they
# agree to 0.03 mrad (tests/test_sim_engines.py).
HARD_SOLIMP = (0.9999, 0.9999, 0.001, 0.5, 2.0)


def _hard_joint_constraints(spec: mujoco.MjSpec, physics_dt: float) -> None:
    solref = [2.0 * physics_dt, 1.0]
    for joint in spec.joints:
        joint.solref_friction, joint.solimp_friction = solref, list(HARD_SOLIMP)
        joint.solref_limit, joint.solimp_limit = solref, list(HARD_SOLIMP)


def _write_actuator(gainprm: np.ndarray, biasprm: np.ndarray, i: int, force: bool, gain_key: str, kp_key: str,
                    kd_key: str, params: dict[str, float]) -> None:
    """Actuator i's gain (force) or gain * kp, kd (PD position servo) into MuJoCo's gain/bias parameters."""
    gain = params[gain_key]
    if force:
        gainprm[i, 0] = gain
    else:
        kp, kd = params[kp_key], params[kd_key]
        gainprm[i, 0] = gain * kp
        biasprm[i, :3] = (0.0, -gain * kp, -gain * kd)


class ModelViews:
    """The arrays of one MjModel that `ModelParamWriter.apply` writes, read once.

    Each attribute read of an MjModel array builds a new numpy object (~0.2 us); a vector env that
    resets a few robots per step keeps one of these per model.
    """

    def __init__(self, model: mujoco.MjModel):
        self.body_mass, self.body_inertia, self.body_ipos = model.body_mass, model.body_inertia, model.body_ipos
        self.dof_damping, self.dof_frictionloss, self.dof_armature = (model.dof_damping, model.dof_frictionloss,
                                                                      model.dof_armature)
        self.gainprm, self.biasprm = model.actuator_gainprm, model.actuator_biasprm
        self.geom_friction = model.geom_friction


class ModelParamWriter:
    """Writes vocabulary values into a compiled MjModel's arrays (no recompile).

    Link inertia scales with mass, keeping the mass distribution (and so the centre of mass).
    """

    def __init__(self, model: mujoco.MjModel, robot: RobotSpec):
        self.robot = robot
        self.body_ids = [model.body(link).id for link in robot.moving_links]
        self.nominal_mass = model.body_mass[self.body_ids].copy()
        for link, mass in zip(robot.moving_links, self.nominal_mass, strict=True):
            urdf_mass = robot.urdf.links[link].mass
            if not np.isclose(mass, urdf_mass, rtol=1e-9, atol=1e-12):
                # `<link>.mass` is the URDF link's mass in both engines; a body that holds more (a
                # static child fused into it) would lose that mass when the parameter is written.
                raise ValueError(f"{robot.urdf_path}: MuJoCo body '{link}' has mass {mass:g}, the URDF link "
                                 f"{urdf_mass:g}; a fixed child link was fused into it (build_spec keeps "
                                 "fusestatic off)")
        self.nominal_inertia = model.body_inertia[self.body_ids].copy()
        self.dof_ids = [model.jnt_dofadr[model.joint(j.name).id] for j in robot.joints]
        self.base_body = model.body(robot.base.link).id if robot.base is not None else -1
        self.nominal_ipos = model.body_ipos[self.base_body].copy() if robot.base is not None else None
        self.floor_geom = model.geom(FLOOR).id if robot.base is not None else -1
        # One scratch MjData for mj_setConst: models sharing this writer have the same sizes, and
        # allocating an MjData per episode reset would cost more than the rest of the reset.
        self._scratch = mujoco.MjData(model)
        # What `apply` writes, laid out once: a vector env applies parameters at every episode reset, and
        # formatting the names and reading each model array once per value cost half of it.
        self._links = [(f"{link}.mass", b, float(m0), inertia) for link, b, m0, inertia
                       in zip(robot.moving_links, self.body_ids, self.nominal_mass, self.nominal_inertia, strict=True)]
        self._dofs = [(d, f"{j.name}.damping", f"{j.name}.frictionloss", f"{j.name}.armature")
                      for j, d in zip(robot.joints, self.dof_ids, strict=True)]
        self._actuators = [(i, a.type == "force", f"{a.name}.gain", f"{a.name}.kp", f"{a.name}.kd")
                           for i, a in enumerate(robot.actuators)]
        self._com_keys = [f"{robot.base.link}.com_{axis}" for axis in "xyz"] if robot.base is not None else []

    def apply(self, model: mujoco.MjModel, params: dict[str, float], views: ModelViews | None = None) -> None:
        """Write `params` into `model` (`views`: its arrays, read once by a caller that writes it often)."""
        v = ModelViews(model) if views is None else views
        body_mass, body_inertia = v.body_mass, v.body_inertia
        for key, b, nominal_mass, nominal_inertia in self._links:
            mass = params[key]
            ratio = mass / nominal_mass if nominal_mass > 0 else 1.0
            body_mass[b] = mass
            body_inertia[b] = nominal_inertia * ratio
        damping, frictionloss, armature = v.dof_damping, v.dof_frictionloss, v.dof_armature
        for d, damping_key, friction_key, armature_key in self._dofs:
            damping[d] = params[damping_key]
            frictionloss[d] = params[friction_key]
            armature[d] = params[armature_key]
        for i, force, gain_key, kp_key, kd_key in self._actuators:
            _write_actuator(v.gainprm, v.biasprm, i, force, gain_key, kp_key, kd_key, params)
        if self._com_keys:
            offset = [params[k] for k in self._com_keys]
            v.body_ipos[self.base_body] = self.nominal_ipos + offset
            v.geom_friction[self.floor_geom, 0] = params["floor.friction"]
        # Derived quantities (e.g. the constant part of the mass matrix) must follow the new values.
        mujoco.mj_setConst(model, self._scratch)


def direct_torque(model: mujoco.MjModel) -> None:
    """Every actuator a direct torque (ctrl = N*m, force range kept): the engine computes the drives itself."""
    model.actuator_gainprm[:, 0] = 1.0
    model.actuator_biasprm[:, :3] = 0.0


class MujocoEngine:
    """A robot in MuJoCo; see `sim.engines.base.Engine`."""

    name = "mujoco"

    def __init__(self, robot: RobotSpec, params: dict[str, float], torque_model: TorqueModel | None = None,
                 terrain: Terrain | None = None):
        """`torque_model`: drives this engine computes itself every physics step (a motor model, an actuator
        network: sim/motor_model.py) instead of MuJoCo's native PD servo; None: the native servo."""
        self.robot = robot
        self.law = torque_model.law(1) if torque_model is not None else None
        self.spec = build_spec(robot, terrain)
        self.model = self.spec.compile()
        self.data = mujoco.MjData(self.model)
        self.writer = ModelParamWriter(self.model, robot)
        self.qpos_adr = np.array([self.model.jnt_qposadr[self.model.joint(j.name).id] for j in robot.joints])
        self.qvel_adr = np.array([self.model.jnt_dofadr[self.model.joint(j.name).id] for j in robot.joints])
        # Joints laid out contiguously (fixed-base robots): read them with a slice, a third of the cost
        # of the fancy index, on the single env's every step.
        self._q_read, self._qd_read = _as_slice(self.qpos_adr), _as_slice(self.qvel_adr)
        self._views()
        self.act_joint = np.array(robot.actuator_joint_indices())
        self.sensors = SensorLayout(robot) if robot.base is not None else None
        self.delay = DelayLine(len(robot.actuators), robot.substeps, robot.physics_dt)
        self.params: dict[str, float] = {}
        self.set_params(params)

    def _views(self) -> None:
        """Numpy views of this MjData's ctrl and joint arrays, made once: each `data.qpos`-style attribute
        read builds a new array object (~0.1 us), several per step on the single env's hot path."""
        d = self.data
        self._ctrl = d.ctrl
        if isinstance(self._q_read, slice) and isinstance(self._qd_read, slice):
            self._q_view, self._qd_view = d.qpos[self._q_read], d.qvel[self._qd_read]
        else:  # a fancy index copies: read through it every time
            self._q_view = self._qd_view = None

    def set_params(self, params: dict[str, float]) -> None:
        self.params = dict(params)
        self.writer.apply(self.model, self.params)
        self.delay.set_delay(self.params["action_delay"])
        if self.law is not None:
            self.law.set_params(0, self.params)
            direct_torque(self.model)

    def reset(self, q: np.ndarray, qd: np.ndarray, base: BaseState | None = None) -> None:
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[self.qpos_adr] = q
        self.data.qvel[self.qvel_adr] = qd
        if self.robot.base is not None:
            base = base or default_base(self.robot)
            self.data.qpos[0:3], self.data.qpos[3:7] = base.position, base.orientation
            self.data.qvel[0:3], self.data.qvel[3:6] = base.linear_velocity, base.angular_velocity
        mujoco.mj_forward(self.model, self.data)
        self.delay.reset()
        if self.law is not None:
            self.law.reset(0, np.asarray(q, dtype=float))

    def step(self, command: np.ndarray) -> None:
        for cmd, n in self.delay.segments(command):
            self.run_substeps(cmd, n)

    def run_substeps(self, command: np.ndarray | list[float], n: int) -> None:
        """Hold an actuator command for n physics substeps (no delay line: the caller realized it)."""
        if self.law is not None:  # the drives' torques, computed here every physics step
            cmd = np.asarray(command, dtype=float).reshape(1, -1)
            for _ in range(n):
                q, qd = self.joint_state()
                self._ctrl[:] = self.law.torques(cmd, q[None], qd[None])[0]
                mujoco.mj_step(self.model, self.data)
            return
        self._ctrl[:] = command
        mujoco.mj_step(self.model, self.data, nstep=n)

    def apply_velocity_kick(self, dqd: np.ndarray) -> None:
        """An impulsive push: add joint velocity (used for random push disturbances)."""
        self.data.qvel[self.qvel_adr] += dqd

    def apply_base_velocity_kick(self, dv: np.ndarray) -> None:
        """A push on a floating base: add to its linear velocity (world frame, m/s)."""
        self.data.qvel[0:3] += dv

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        if self._q_view is not None:
            return self._q_view.copy(), self._qd_view.copy()
        return self.data.qpos[self._q_read].copy(), self.data.qvel[self._qd_read].copy()

    def state(self) -> RobotState:
        """Everything the robot reports (joints, efforts, base, IMU, foot forces) at this instant.

        IMU and touch readings are MuJoCo sensors, evaluated at the start of the last physics substep
        (as `mujoco.rollout` returns them): a real IMU's latency of one substep.
        """
        d = self.data
        q, qd = self.joint_state()
        tau = np.zeros(len(self.robot.joints))
        tau[self.act_joint] = d.actuator_force  # robot.yaml: one actuator per joint at most
        if self.sensors is None:
            return RobotState(self.robot.joint_names, q, qd, tau)
        return state_from_arrays(self.robot, self.sensors, q, qd, tau, d.qpos[:7], d.qvel[:6], d.sensordata)

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


def _as_slice(idx: np.ndarray) -> slice | np.ndarray:
    """`idx` as the equal slice where it is a run of consecutive indices, else `idx` itself."""
    if len(idx) and np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx))):
        return slice(int(idx[0]), int(idx[0]) + len(idx))
    return idx


def default_base(robot: RobotSpec) -> BaseState:
    """The base at rest, level, at its robot.yaml height above the origin."""
    return BaseState(np.array([0.0, 0.0, robot.base.height]), np.array([1.0, 0.0, 0.0, 0.0]), np.zeros(3), np.zeros(3))


def state_from_arrays(robot: RobotSpec, sensors: SensorLayout, q: np.ndarray, qd: np.ndarray, tau: np.ndarray | None,
                      base_qpos: np.ndarray, base_qvel: np.ndarray, sensordata: np.ndarray) -> RobotState:
    """A floating robot's RobotState from free-joint qpos[:7] / qvel[:6] and sensordata (any batch shape).

    MuJoCo's free joint: linear velocity in the world frame, angular velocity in the body frame.
    The IMU's orientation and rate follow from the base through its fixed mount (exact, as in
    PyBullet); its accelerometer is MuJoCo's sensor, evaluated at the start of the last substep.
    """
    quat = base_qpos[..., 3:7] / np.linalg.norm(base_qpos[..., 3:7], axis=-1, keepdims=True)
    omega = base_qvel[..., 3:6].copy()
    base = BaseState(base_qpos[..., 0:3].copy(), quat, base_qvel[..., 0:3].copy(), omega)
    off = sensors.imu_offset
    imu_quat = quat if off[0] == 1.0 else quat_multiply(quat, np.broadcast_to(off, quat.shape))
    imu = ImuState(imu_quat, omega if off[0] == 1.0 else quat_rotate_inverse(off, omega),
                   sensordata[..., sensors.acc].copy())
    if tau is None:
        tau = np.zeros(q.shape)
        tau[..., robot.actuator_joint_indices()] = sensordata[..., sensors.force]
    return RobotState(robot.joint_names, q, qd, tau, base, imu, robot.base.feet,
                      sensordata[..., sensors.feet].copy(), sensordata[..., sensors.base_touch].copy())
