"""RobotState: everything a robot reports about itself, as one record (numpy only).

Why one record: the engines, the observation functions, the tasks, the vector env and the deploy
runtime all pass state around; when that state was `(q, qd)` nothing beyond joints could exist.
A real robot reports joint positions/velocities/efforts by name, and a legged one also an IMU and
sometimes foot contacts; a simulator also knows the floating base exactly (privileged: a real
robot does not). Fixed-base robots are the special case with `base`, `imu` and `contacts` None.

Every array may carry a leading batch dimension (the vector env keeps N robots in one record).
Conventions (MuJoCo's, stated once): quaternions are (w, x, y, z), world frame z up; base linear
velocity is in the world frame, angular velocities are in the body (IMU) frame; the accelerometer
reads specific force (acceleration minus gravity: +9.81 on z when standing still), body frame.
Importing this module must not import a simulator (the runtime uses it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRAVITY = np.array([0.0, 0.0, -9.81])


@dataclass
class BaseState:
    """A floating base: pose and twist of the base link."""

    position: np.ndarray  # (..., 3) world, m
    orientation: np.ndarray  # (..., 4) quaternion w, x, y, z (body -> world)
    linear_velocity: np.ndarray  # (..., 3) world frame, m/s
    angular_velocity: np.ndarray  # (..., 3) body frame, rad/s


@dataclass
class ImuState:
    """What an IMU on the robot reports, in its own frame."""

    orientation: np.ndarray  # (..., 4) quaternion w, x, y, z (imu -> world)
    angular_velocity: np.ndarray  # (..., 3) rad/s, imu frame
    linear_acceleration: np.ndarray  # (..., 3) m/s^2 specific force, imu frame

    @property
    def projected_gravity(self) -> np.ndarray:
        """Unit gravity direction in the IMU frame ((0, 0, -1) when level): what a policy can trust."""
        return quat_rotate_inverse(self.orientation, np.array([0.0, 0.0, -1.0]))


@dataclass
class RobotState:
    """Joints by name (robot.yaml order), optional floating base, IMU and foot contacts."""

    joint_names: tuple[str, ...]
    q: np.ndarray  # (..., n_joints)
    qd: np.ndarray  # (..., n_joints)
    tau: np.ndarray | None = None  # (..., n_joints) applied joint efforts, None where not reported
    base: BaseState | None = None
    imu: ImuState | None = None
    foot_names: tuple[str, ...] = ()
    foot_forces: np.ndarray | None = None  # (..., n_feet) contact normal force, N
    base_force: np.ndarray | None = None  # (...,) normal force between the base link and the floor (a fall), N

    @property
    def contacts(self) -> np.ndarray | None:
        """Foot in contact (bool per foot): normal force above 1 N, the threshold both engines share."""
        return None if self.foot_forces is None else self.foot_forces > 1.0

    def joint(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(position, velocity) of one joint by name."""
        i = self.joint_names.index(name)
        return self.q[..., i], self.qd[..., i]

    def row(self, i: int) -> RobotState:
        """Robot `i` of a batched state (a view where numpy allows)."""
        base = None if self.base is None else BaseState(*(getattr(self.base, f)[i] for f in _BASE_FIELDS))
        imu = None if self.imu is None else ImuState(*(getattr(self.imu, f)[i] for f in _IMU_FIELDS))
        return RobotState(self.joint_names, self.q[i], self.qd[i], None if self.tau is None else self.tau[i], base,
                          imu, self.foot_names, None if self.foot_forces is None else self.foot_forces[i],
                          None if self.base_force is None else self.base_force[i])

    @staticmethod
    def stack(states: list[RobotState]) -> RobotState:
        """One batched record from per-robot records (same robot)."""
        s0 = states[0]

        def cat(get):
            values = [get(s) for s in states]
            if values[0] is None:
                return None
            return np.asarray(values[0])[None] if len(values) == 1 else np.stack(values)

        base = None if s0.base is None else BaseState(
            *(cat(lambda s, f=f: getattr(s.base, f)) for f in _BASE_FIELDS))
        imu = None if s0.imu is None else ImuState(*(cat(lambda s, f=f: getattr(s.imu, f)) for f in _IMU_FIELDS))
        return RobotState(s0.joint_names, cat(lambda s: s.q), cat(lambda s: s.qd), cat(lambda s: s.tau), base, imu,
                          s0.foot_names, cat(lambda s: s.foot_forces), cat(lambda s: s.base_force))


_BASE_FIELDS = ("position", "orientation", "linear_velocity", "angular_velocity")
_IMU_FIELDS = ("orientation", "angular_velocity", "linear_acceleration")


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a x b over the last axis (np.cross's axis handling costs more than the arithmetic here)."""
    a, b = np.broadcast_arrays(a, b)
    out = np.empty(a.shape)
    out[..., 0] = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
    out[..., 1] = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
    out[..., 2] = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return out


def quat_rotate(quat: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate v (..., 3) by unit quaternion(s) (..., 4) w, x, y, z: body -> world."""
    w, xyz = quat[..., :1], quat[..., 1:]
    t = 2.0 * _cross(xyz, v)
    return v + w * t + _cross(xyz, t)


def quat_rotate_inverse(quat: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate v (..., 3) by the inverse of quaternion(s) (..., 4): world -> body."""
    w, xyz = quat[..., :1], quat[..., 1:]
    t = 2.0 * _cross(xyz, v)
    return v - w * t + _cross(xyz, t)


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of (w, x, y, z) quaternions."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def yaw_quat(yaw: np.ndarray) -> np.ndarray:
    """Quaternion(s) of a rotation by `yaw` about world z."""
    yaw = np.asarray(yaw, dtype=float)
    return np.stack([np.cos(yaw / 2), np.zeros_like(yaw), np.zeros_like(yaw), np.sin(yaw / 2)], axis=-1)
