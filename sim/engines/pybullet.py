"""PyBullet backend: the same robot, with the actuator law computed in our code every substep.

PyBullet's own joint motors are switched to what the shared model needs: a velocity motor with
zero target and max force = frictionloss (the standard way to get Coulomb friction as a
constraint, like MuJoCo's frictionloss), and torques from `sim.actuators.actuator_torques` plus
explicit viscous damping at every physics substep. Link damping, which MuJoCo lacks, is off.
PyBullet cannot express joint armature: a non-zero `<joint>.armature` is refused.
"""

from __future__ import annotations

import numpy as np
import pybullet as pb

from sim.actuators import DelayLine, actuator_torques
from sim.errors import ConfigError
from sim.robot import RobotSpec


class PybulletEngine:
    """A robot in PyBullet (its own DIRECT client); see `sim.engines.base.Engine`."""

    name = "pybullet"

    def __init__(self, robot: RobotSpec, params: dict[str, float]):
        self.robot = robot
        self.client = pb.connect(pb.DIRECT)
        c = self.client
        pb.setGravity(0, 0, -9.81, physicsClientId=c)
        pb.setTimeStep(robot.physics_dt, physicsClientId=c)
        pb.setPhysicsEngineParameter(numSubSteps=0, physicsClientId=c)
        self.body = pb.loadURDF(str(robot.urdf_path), useFixedBase=True,
                                flags=pb.URDF_USE_INERTIA_FROM_FILE, physicsClientId=c)
        index_of = {}
        link_of = {}
        for i in range(pb.getNumJoints(self.body, physicsClientId=c)):
            info = pb.getJointInfo(self.body, i, physicsClientId=c)
            index_of[info[1].decode()] = i
            link_of[info[12].decode()] = i
        self.joint_ids = [index_of[j.name] for j in robot.joints]
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
        self.delay = DelayLine(len(robot.actuators), robot.substeps, robot.physics_dt)
        self._steps = 0
        self.params: dict[str, float] = {}
        self.set_params(params)

    def set_params(self, params: dict[str, float]) -> None:
        c = self.client
        for j in self.robot.joints:
            if params[f"{j.name}.armature"] != 0.0:
                raise ConfigError("params", f"{j.name}.armature", "PyBullet cannot model joint armature; "
                                  "set it to 0 or use engine='mujoco'")
        self.params = dict(params)
        for link in self.robot.moving_links:
            mass0, inertia0 = self.nominal_inertia[link]
            mass = params[f"{link}.mass"]
            ratio = mass / mass0 if mass0 > 0 else 1.0
            pb.changeDynamics(self.body, self.link_ids[link], mass=mass,
                              localInertiaDiagonal=list(inertia0 * ratio), physicsClientId=c)
        self._damping = np.array([params[f"{j.name}.damping"] for j in self.robot.joints])
        friction = [params[f"{j.name}.frictionloss"] for j in self.robot.joints]
        pb.setJointMotorControlArray(self.body, self.joint_ids, pb.VELOCITY_CONTROL,
                                     targetVelocities=[0.0] * len(friction), forces=friction, physicsClientId=c)
        self.delay.set_delay(params["action_delay"])

    def reset(self, q: np.ndarray, qd: np.ndarray) -> None:
        for k, jid in enumerate(self.joint_ids):
            pb.resetJointState(self.body, jid, float(q[k]), float(qd[k]), physicsClientId=self.client)
        self.delay.reset()
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
            tau = actuator_torques(self.robot, self.params, command, q, qd) - self._damping * qd
            pb.setJointMotorControlArray(self.body, self.joint_ids, pb.TORQUE_CONTROL, forces=list(tau),
                                         physicsClientId=c)
            pb.stepSimulation(physicsClientId=c)
        self._steps += n

    def apply_velocity_kick(self, dqd: np.ndarray) -> None:
        q, qd = self._read()
        for k, jid in enumerate(self.joint_ids):
            pb.resetJointState(self.body, jid, float(q[k]), float(qd[k] + dqd[k]), physicsClientId=self.client)

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self._read()

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

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
