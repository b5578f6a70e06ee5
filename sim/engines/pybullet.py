"""PyBullet backend: the same robot, with the actuator law computed in our code every substep.

PyBullet's own joint motors are switched to what the shared model needs: a velocity motor with
zero target and max force = frictionloss (the standard way to get Coulomb friction as a
constraint, like MuJoCo's frictionloss), and torques from `sim.actuators.actuator_torques` plus
explicit viscous damping at every physics substep. Link damping, which MuJoCo lacks, is off.
PyBullet cannot express joint armature: a non-zero `<joint>.armature` is refused.

A robot with `integrator: implicit` (sim.robot.INTEGRATORS) gets MuJoCo's `implicitfast` step: the
velocity-proportional forces (joint damping, the servos' gain * kd) act on the end-of-step velocity.
MuJoCo solves its constraints (friction, limits) on the explicit step, then (M + dt D) qacc =
M qacc_explicit. So do we: PyBullet takes the explicit step (our torques, its friction motors and
limits), we read its acceleration qacc_explicit = (v' - v) / dt, and reset the joints to
v = v + dt qacc, q = q + dt v, with M = M(q) from PyBullet at the start of the substep. As in MuJoCo, a
servo whose force is at its effort limit contributes no kd to D. PyBullet's 100 rad/s joint velocity
clamp is lifted for such robots (MuJoCo has none, and the explicit step may pass it before the
implicit one brings the velocity back).

A floating robot (robot.yaml `base:`) loads with a free base above a plane whose lateral friction
is `floor.friction` (the robot's links have friction 1 and PyBullet multiplies the two, so the
product is the parameter, as MuJoCo's floor priority makes it). PyBullet cannot move a loaded
link's centre of mass, so a base `com_*` offset reloads the robot from a copy of its URDF with
the shifted inertial origin (between episodes only: the reload puts the robot back at rest).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pybullet as pb

from sim.actuators import DelayLine, actuator_torques
from sim.engines.base import fixed_offset_quat
from sim.engines.heightfield import pybullet_floor
from sim.errors import ConfigError
from sim.robot import RobotSpec
from sim.state import GRAVITY, BaseState, ImuState, RobotState, quat_multiply, quat_rotate, quat_rotate_inverse
from sim.terrain import Terrain


class MassMatrixTwin:
    """M(q) of a fixed-base robot at the engine's *current* link masses, from a twin body in its own client.

    Why not `calculateMassMatrix` on the engine's own body: PyBullet (3.2.x) builds that call's
    inverse-dynamics tree once per body, at the first call, and never sees a later `changeDynamics`.
    Under domain randomization every episode after the first got the mass matrix of the first
    episode's masses; the implicit step built on it then diverged (|qd| in the thousands) when an
    arm with a light link 7 followed a heavier one. The twin is rebuilt (a fresh client, masses set
    before its first call) whenever the masses change: once per episode at most.
    """

    def __init__(self, urdf: str):
        self.urdf = urdf
        self.client: int | None = None
        self.masses: dict[str, tuple[float, tuple[float, ...]]] | None = None

    def set_masses(self, masses: dict[str, tuple[float, tuple[float, ...]]]) -> None:
        """link -> (mass, inertia diagonal); rebuilds the twin only when they differ from its own."""
        if masses == self.masses:
            return
        self.close()
        c = self.client = pb.connect(pb.DIRECT)
        self.body = pb.loadURDF(self.urdf, [0, 0, 0], useFixedBase=True, flags=pb.URDF_USE_INERTIA_FROM_FILE,
                                physicsClientId=c)
        link_of = {pb.getJointInfo(self.body, i, physicsClientId=c)[12].decode(): i
                   for i in range(pb.getNumJoints(self.body, physicsClientId=c))}
        for link, (mass, inertia) in masses.items():
            pb.changeDynamics(self.body, link_of[link], mass=mass, localInertiaDiagonal=list(inertia),
                              physicsClientId=c)
        self.masses = dict(masses)

    def mass_matrix(self, q: list[float]) -> np.ndarray:
        return np.array(pb.calculateMassMatrix(self.body, q, physicsClientId=self.client))

    def close(self) -> None:
        if self.client is not None and pb.isConnected(self.client):
            pb.disconnect(self.client)
        self.client = None


def _wxyz(q_xyzw) -> np.ndarray:
    return np.array([q_xyzw[3], q_xyzw[0], q_xyzw[1], q_xyzw[2]])


def _xyzw(q_wxyz) -> list[float]:
    return [float(q_wxyz[1]), float(q_wxyz[2]), float(q_wxyz[3]), float(q_wxyz[0])]


class PybulletEngine:
    """A robot in PyBullet (its own DIRECT client); see `sim.engines.base.Engine`."""

    name = "pybullet"

    def __init__(self, robot: RobotSpec, params: dict[str, float], terrain: Terrain | None = None):
        self.robot = robot
        self.client = pb.connect(pb.DIRECT)
        c = self.client
        pb.setGravity(0, 0, -9.81, physicsClientId=c)
        pb.setTimeStep(robot.physics_dt, physicsClientId=c)
        pb.setPhysicsEngineParameter(numSubSteps=0, physicsClientId=c)
        self.plane = -1
        if robot.base is not None and terrain is not None:  # the floor is the terrain (sim/engines/heightfield.py)
            self.plane = pybullet_floor(c, terrain)
        elif robot.base is not None:
            shape = pb.createCollisionShape(pb.GEOM_PLANE, physicsClientId=c)
            self.plane = pb.createMultiBody(0, shape, physicsClientId=c)
        self._com: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._writes = 0  # URDF files written (each text a file name of its own: see _write_urdf)
        self._com_file: Path | None = None  # the file of the last base `com_*` reload
        self._load(str(self._write_urdf(robot.engine_urdf_text())))
        self.delay = DelayLine(len(robot.actuators), robot.substeps, robot.physics_dt)
        self._steps = 0
        self._base_acc = np.zeros(3)
        self._tau = np.zeros(len(robot.joints))
        self.params: dict[str, float] = {}
        self.set_params(params)

    def _load(self, urdf: str) -> None:
        """(Re)load the robot's body; link indices, nominal inertia and collision filters."""
        robot, c = self.robot, self.client
        floating = robot.base is not None
        self.body = pb.loadURDF(urdf, [0, 0, robot.base.height if floating else 0], useFixedBase=not floating,
                                flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=c)
        index_of = {}
        link_of = {}
        for i in range(pb.getNumJoints(self.body, physicsClientId=c)):
            info = pb.getJointInfo(self.body, i, physicsClientId=c)
            index_of[info[1].decode()] = i
            link_of[info[12].decode()] = i
        if floating:
            link_of[robot.base.link] = -1
        self.joint_ids = [index_of[j.name] for j in robot.joints]
        if robot.integrator == "implicit":
            movable = [i for i in range(pb.getNumJoints(self.body, physicsClientId=c))
                       if pb.getJointInfo(self.body, i, physicsClientId=c)[2] != pb.JOINT_FIXED]
            # Joints robot.yaml does not list are fixed in the loaded URDF (held: RobotSpec.engine_urdf_text),
            # so the movable joints are exactly the listed ones; a floating base adds 6 dofs the step ignores.
            if floating or sorted(self.joint_ids) != movable:
                raise ConfigError(str(robot.yaml_path), "integrator", "implicit needs a fixed-base robot in "
                                  "PyBullet (its step corrects the joints through the fixed base's mass matrix); "
                                  "use integrator: euler for a floating base")
            dof = [movable.index(i) for i in self.joint_ids]  # robot joint k -> PyBullet dof
            self._dof = None if dof == list(range(len(dof))) else np.array(dof)
            self._diag = np.diag_indices(len(movable))
            for i in movable:
                pb.changeDynamics(self.body, i, maxJointVelocity=1e4, physicsClientId=c)
            self._twin = MassMatrixTwin(urdf)
        self.link_ids = link_of
        self.nominal_inertia = {}
        for link in robot.moving_links:
            li = link_of[link]
            dyn = pb.getDynamicsInfo(self.body, li, physicsClientId=c)
            self.nominal_inertia[link] = (dyn[0], np.array(dyn[2]))
            pb.changeDynamics(self.body, li, linearDamping=0.0, angularDamping=0.0, jointDamping=0.0,
                              physicsClientId=c)
            if not robot.contacts:
                pb.setCollisionFilterGroupMask(self.body, li, 0, 0, physicsClientId=c)
        if not robot.contacts:
            pb.setCollisionFilterGroupMask(self.body, -1, 0, 0, physicsClientId=c)
        if floating:
            for li in [-1, *range(pb.getNumJoints(self.body, physicsClientId=c))]:
                pb.changeDynamics(self.body, li, lateralFriction=1.0, spinningFriction=0.0, rollingFriction=0.0,
                                  restitution=0.0, physicsClientId=c)
            self.foot_ids = [link_of[f] for f in robot.base.feet]
            # PyBullet's base pose and velocity are of the base's centre of mass; RobotState's (as
            # MuJoCo's free joint) are of the base link frame: convert with the inertial offset.
            self._inertial = np.array(pb.getDynamicsInfo(self.body, -1, physicsClientId=c)[3])
            self._imu_offset = fixed_offset_quat(robot, robot.base.imu_link)

    def _write_urdf(self, text: str) -> Path:
        """`text` as a new URDF file in this engine's temporary folder (kept until `close`), for `loadURDF`.

        The robot is always loaded from `RobotSpec.engine_urdf_text()` (the text MuJoCo builds from
        too): mesh paths absolute, `package://` URIs resolved by sim.packages (PyBullet resolves a
        `package://` against its own search path only, not ROS packages), and the joints robot.yaml
        does not list fixed at their held position, so they cannot drift.
        Every text gets a file name of its own: PyBullet caches a loaded URDF by its file name, and a
        second base `com_*` reload written over the first file's name got the first one's centre of mass.
        """
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="robot_rl_urdf_")
        self._writes += 1
        path = Path(self._tmp.name) / f"{self._writes}_{self.robot.urdf_path.name}"
        path.write_text(text)
        return path

    def _reload_with_com(self, com: tuple[float, float, float]) -> None:
        """PyBullet fixes a link's inertial frame at load: write the URDF with the base's shifted, reload."""
        link = self.robot.base.link
        text = self.robot.engine_urdf_text()
        m = re.search(r"<link\s+name\s*=\s*[\"']" + re.escape(link) + r"[\"'][^>]*>(.*?)</link>", text, re.S)
        inertial = re.search(r"<inertial>.*?</inertial>", m.group(1), re.S) if m else None
        if inertial is None:
            raise ConfigError(str(self.robot.urdf_path), f"{link}.com_x", "the base link has no <inertial> to shift")
        block = inertial.group(0)
        origin = re.search(r'<origin[^>]*xyz\s*=\s*"([^"]*)"', block)
        xyz = [float(v) for v in origin.group(1).split()] if origin else [0.0, 0.0, 0.0]
        new_xyz = " ".join(f"{a + b:.9g}" for a, b in zip(xyz, com, strict=True))
        new_block = (block[: origin.start(1)] + new_xyz + block[origin.end(1):]) if origin else \
            block.replace("<inertial>", f'<inertial><origin xyz="{new_xyz}" rpy="0 0 0"/>', 1)
        start = m.start(1) + inertial.start()
        text = text[:start] + new_block + text[start + len(block):]
        path = self._write_urdf(text)
        pb.removeBody(self.body, physicsClientId=self.client)
        self._load(str(path))
        if self._com_file is not None:  # one reload per episode under DR: keep one file, not thousands
            self._com_file.unlink(missing_ok=True)
        self._com, self._com_file = com, path

    def set_params(self, params: dict[str, float]) -> None:
        c = self.client
        for j in self.robot.joints:
            if params[f"{j.name}.armature"] != 0.0:
                raise ConfigError("params", f"{j.name}.armature", "PyBullet cannot model joint armature; "
                                  "set it to 0 or use engine='mujoco'")
        self.params = dict(params)
        if self.robot.base is not None:
            com = tuple(float(params[f"{self.robot.base.link}.com_{a}"]) for a in "xyz")
            if com != self._com:
                self._reload_with_com(com)
            pb.changeDynamics(self.plane, -1, lateralFriction=params["floor.friction"], physicsClientId=c)
        masses = {}
        for link in self.robot.moving_links:
            mass0, inertia0 = self.nominal_inertia[link]
            mass = params[f"{link}.mass"]
            ratio = mass / mass0 if mass0 > 0 else 1.0
            masses[link] = (mass, tuple(inertia0 * ratio))
            pb.changeDynamics(self.body, self.link_ids[link], mass=mass,
                              localInertiaDiagonal=list(inertia0 * ratio), physicsClientId=c)
        if self.robot.integrator == "implicit":
            self._twin.set_masses(masses)
        self._damping = np.array([params[f"{j.name}.damping"] for j in self.robot.joints])
        self._kd = np.zeros(len(self.robot.joints))  # gain * kd of each joint's position servo
        self._act_limit = np.full(len(self.robot.joints), np.inf)
        for act, k in zip(self.robot.actuators, self.robot.actuator_joint_indices(), strict=True):
            self._act_limit[k] = act.effort_limit
            if act.type == "position":
                self._kd[k] = params[f"{act.name}.gain"] * params[f"{act.name}.kd"]
        friction = [params[f"{j.name}.frictionloss"] for j in self.robot.joints]
        pb.setJointMotorControlArray(self.body, self.joint_ids, pb.VELOCITY_CONTROL,
                                     targetVelocities=[0.0] * len(friction), forces=friction, physicsClientId=c)
        self.delay.set_delay(params["action_delay"])

    def reset(self, q: np.ndarray, qd: np.ndarray, base: BaseState | None = None) -> None:
        c = self.client
        for k, jid in enumerate(self.joint_ids):
            pb.resetJointState(self.body, jid, float(q[k]), float(qd[k]), physicsClientId=c)
        if self.robot.base is not None:
            from sim.engines.mujoco import default_base  # noqa: PLC0415 (one definition of the rest pose)

            base = base or default_base(self.robot)
            quat = np.asarray(base.orientation, float)
            lever = quat_rotate(quat, self._inertial)  # base frame origin -> centre of mass, world
            omega_world = quat_rotate(quat, np.asarray(base.angular_velocity, float))
            pb.resetBasePositionAndOrientation(self.body, list(map(float, base.position + lever)), _xyzw(quat),
                                               physicsClientId=c)
            v_com = np.asarray(base.linear_velocity, float) + np.cross(omega_world, lever)
            pb.resetBaseVelocity(self.body, list(map(float, v_com)), list(map(float, omega_world)), physicsClientId=c)
            self._base_acc = np.zeros(3)
        self.delay.reset()
        self._tau = np.zeros(len(self.robot.joints))
        self._steps = 0

    def _read(self) -> tuple[np.ndarray, np.ndarray]:
        states = pb.getJointStates(self.body, self.joint_ids, physicsClientId=self.client)
        return np.array([s[0] for s in states]), np.array([s[1] for s in states])

    def step(self, command: np.ndarray) -> None:
        for cmd, n in self.delay.segments(command):
            self.run_substeps(cmd, n)

    def run_substeps(self, command: np.ndarray, n: int) -> None:
        """Hold an actuator command for n physics substeps (no delay line): the torque law every substep."""
        c = self.client
        for _ in range(n):
            q, qd = self._read()
            self._tau = actuator_torques(self.robot, self.params, command, q, qd)
            tau = self._tau - self._damping * qd
            pb.setJointMotorControlArray(self.body, self.joint_ids, pb.TORQUE_CONTROL, forces=list(tau),
                                         physicsClientId=c)
            if self.plane >= 0:
                v_before = np.array(pb.getBaseVelocity(self.body, physicsClientId=c)[0])
            pb.stepSimulation(physicsClientId=c)
            if self.robot.integrator == "implicit":
                self._implicit_correction(q, qd)
            if self.plane >= 0:  # the accelerometer: base acceleration over the last substep
                v_after = np.array(pb.getBaseVelocity(self.body, physicsClientId=c)[0])
                self._base_acc = (v_after - v_before) / self.robot.physics_dt
        self._steps += n

    def _implicit_correction(self, q: np.ndarray, qd: np.ndarray) -> None:
        """Turn PyBullet's explicit substep from (q, qd) into MuJoCo's implicitfast one (module docstring)."""
        c, h, dof = self.client, self.robot.physics_dt, self._dof
        q1, v1 = self._read()
        d = self._damping + np.where(np.abs(self._tau) < self._act_limit, self._kd, 0.0)
        qs = q.tolist() if dof is None else q[np.argsort(dof)].tolist()
        mass = self._twin.mass_matrix(qs)
        if dof is not None:
            mass = mass[np.ix_(dof, dof)]
        qacc_explicit = (v1 - qd) / h
        implicit = mass.copy()
        implicit[self._diag] += h * d
        v = qd + h * np.linalg.solve(implicit, mass @ qacc_explicit)
        pb.resetJointStatesMultiDof(self.body, self.joint_ids, [[x] for x in q1 + h * (v - v1)],
                                    targetVelocities=[[x] for x in v], physicsClientId=c)

    def apply_velocity_kick(self, dqd: np.ndarray) -> None:
        q, qd = self._read()
        for k, jid in enumerate(self.joint_ids):
            pb.resetJointState(self.body, jid, float(q[k]), float(qd[k] + dqd[k]), physicsClientId=self.client)

    def apply_base_velocity_kick(self, dv: np.ndarray) -> None:
        """A push on a floating base: add to its linear velocity (world frame, m/s)."""
        lin, ang = pb.getBaseVelocity(self.body, physicsClientId=self.client)  # a uniform kick: same for the COM
        pb.resetBaseVelocity(self.body, list(np.add(lin, dv)), list(ang), physicsClientId=self.client)

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self._read()

    def state(self) -> RobotState:
        """Joints, applied efforts, and for a floating robot the base, IMU and foot contact forces.

        The IMU is the imu link's orientation, its angular velocity in its own frame, and the base's
        acceleration over the last substep minus gravity (specific force), in its frame.
        """
        c = self.client
        states = pb.getJointStates(self.body, self.joint_ids, physicsClientId=c)
        q = np.array([st[0] for st in states])
        qd = np.array([st[1] for st in states])
        tau = self._tau.copy()  # PyBullet reports 0 applied torque in TORQUE_CONTROL: ours is the truth
        if self.robot.base is None:
            return RobotState(self.robot.joint_names, q, qd, tau)
        pos, orn = pb.getBasePositionAndOrientation(self.body, physicsClientId=c)
        lin, ang = pb.getBaseVelocity(self.body, physicsClientId=c)
        quat, omega = _wxyz(orn), np.array(ang)
        lever = quat_rotate(quat, self._inertial)
        base = BaseState(np.array(pos) - lever, quat, np.array(lin) - np.cross(omega, lever),
                         quat_rotate_inverse(quat, omega))
        imu_quat = quat_multiply(quat, self._imu_offset)  # the IMU is rigidly mounted on the base
        imu = ImuState(imu_quat, quat_rotate_inverse(imu_quat, omega),
                       quat_rotate_inverse(imu_quat, self._base_acc - GRAVITY))
        forces = np.zeros(len(self.foot_ids))
        for k, li in enumerate(self.foot_ids):
            for cp in pb.getContactPoints(self.body, self.plane, linkIndexA=li, physicsClientId=c):
                forces[k] += cp[9]
        return RobotState(self.robot.joint_names, q, qd, tau, base, imu, self.robot.base.feet, forces,
                          np.array(self.base_contact_force()))

    def base_contact_force(self) -> float:
        """Normal force between the base link and the floor (a fall), N."""
        return float(sum(cp[9] for cp in pb.getContactPoints(self.body, self.plane, linkIndexA=-1,
                                                               physicsClientId=self.client)))

    def link_position(self, link: str) -> np.ndarray:
        state = pb.getLinkState(self.body, self.link_ids[link], computeForwardKinematics=True,
                                physicsClientId=self.client)
        return np.array(state[4])  # URDF link frame origin, as MuJoCo's body xpos

    @property
    def time(self) -> float:
        return self._steps * self.robot.physics_dt

    def close(self) -> None:
        if self.client is not None and pb.isConnected(self.client):
            pb.disconnect(self.client)
        self.client = None
        if getattr(self, "_twin", None) is not None:
            self._twin.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
