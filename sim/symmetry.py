"""Left-right (sagittal) mirror symmetry of a legged robot and of its Walk observations and actions.

Why: a quadruped that can step off with its left legs can step off with its right legs; a policy that
learns each side separately pays for the same lesson twice. Mirroring every sample across the robot's
sagittal plane (the base frame's x-z plane, y -> -y, as REP-103 lays a base frame out) gives PPO that
second lesson for free (rsl_rl and mjbatch both train their quadrupeds this way).

Nothing here is written per robot. Which joint is whose mirror image, and with which sign, comes from
the URDF: each actuated joint's anchor and axis in the base frame at the zero pose; its partner is
the joint at the mirrored anchor, and the sign is whether the mirrored axis points along or against
the partner's (an axis is a pseudovector: mirroring y -> -y maps a rotation axis a to -M a). A robot
that is not symmetric, or a default pose or action scale that is not, is refused with the joint named.

The maps are plain matrices (observation x observation, action x action): a mirrored batch is one
matrix product, and a tilted IMU (a general rotation of the mirror into the IMU frame) needs no
special case. Numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.kinematics import _rpy_matrix

if TYPE_CHECKING:
    from sim.robot import RobotSpec
    from sim.tasks.interface import TaskInterface

MIRROR = np.diag([1.0, -1.0, 1.0])  # the reflection y -> -y of the base frame
ANCHOR_TOLERANCE = 0.01  # m: how far a joint may sit from its partner's mirrored anchor
AXIS_TOLERANCE = 0.02  # |cos| of the angle between a mirrored axis and the partner's: >= 1 - this
POSE_TOLERANCE = 1e-3  # rad: default pose of a joint against its partner's (signed)


class SymmetryError(ValueError):
    """The robot (or task) has no left-right symmetry the mirror can use; the message names what breaks it."""


@dataclass(frozen=True)
class JointMirror:
    """Joint i of robot.yaml's order mirrors onto joint `partner[i]`, its position multiplied by `sign[i]`."""

    partner: np.ndarray  # int, a permutation that is its own inverse
    sign: np.ndarray  # +-1.0

    def matrix(self) -> np.ndarray:
        """M with (M x)[partner[i]] = sign[i] x[i]: the map of a vector in joint order."""
        n = len(self.partner)
        m = np.zeros((n, n))
        m[self.partner, np.arange(n)] = self.sign
        return m


@dataclass(frozen=True)
class ObservationMirror:
    """The mirror of a task's observation and action vectors: x' = x @ obs.T, a' = a @ action.T."""

    obs: np.ndarray  # (obs_size, obs_size)
    action: np.ndarray  # (action_size, action_size)

    def mirror_obs(self, obs: np.ndarray) -> np.ndarray:
        return obs @ self.obs.T

    def mirror_action(self, action: np.ndarray) -> np.ndarray:
        return action @ self.action.T


def _zero_pose_frames(robot: RobotSpec) -> tuple[dict, dict]:
    """Every link's rotation and every moving joint's (anchor, axis) in the base link's frame, all joints at 0.

    The zero pose, not the default one: it is its own mirror image whatever the joints' sign conventions,
    so a symmetric robot's anchors and axes are symmetric there (the default pose is checked separately)."""
    urdf, base = robot.urdf, robot.base.link  # type: ignore[union-attr]
    by_parent: dict[str, list] = {}
    for joint in urdf.joints.values():
        by_parent.setdefault(joint.parent, []).append(joint)
    links = {base: (np.eye(3), np.zeros(3))}
    joints: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    stack = [base]
    while stack:
        parent = stack.pop()
        r_parent, p_parent = links[parent]
        for joint in by_parent.get(parent, []):
            r = r_parent @ _rpy_matrix(joint.origin_rpy)
            p = p_parent + r_parent @ np.asarray(joint.origin_xyz, dtype=float)
            if joint.type in ("revolute", "continuous", "prismatic"):
                axis = np.asarray(joint.axis, dtype=float)
                joints[joint.name] = (p, r @ (axis / max(np.linalg.norm(axis), 1e-12)))
            links[joint.child] = (r, p)
            stack.append(joint.child)
    return {name: pose[0] for name, pose in links.items()}, joints


def joint_mirror(robot: RobotSpec) -> JointMirror:
    """Each joint's mirror partner and sign, from the URDF at the zero pose (see the module's docstring).

    SymmetryError, naming the joint, when a joint has no partner at its mirrored anchor, when the partner's
    axis is not parallel to the mirrored axis, or when the default pose is not itself mirror-symmetric."""
    if robot.base is None or robot.default_pose is None:
        raise SymmetryError(f"robot '{robot.name}' has no floating base and default pose: left-right symmetry "
                            "is defined for legged robots")
    names = list(robot.joint_names)
    _, frames = _zero_pose_frames(robot)
    missing = [n for n in names if n not in frames]
    if missing:
        raise SymmetryError(f"{robot.yaml_path}: joint(s) {', '.join(missing)} are not below the base link "
                            f"'{robot.base.link}' in {robot.urdf_path.name}")
    anchors = np.array([frames[n][0] for n in names])
    axes = np.array([frames[n][1] for n in names])
    partner = np.empty(len(names), dtype=int)
    sign = np.empty(len(names))
    for i, name in enumerate(names):
        mirrored_anchor = MIRROR @ anchors[i]
        distance = np.linalg.norm(anchors - mirrored_anchor, axis=1)
        k = int(np.argmin(distance))
        if distance[k] > ANCHOR_TOLERANCE:
            raise SymmetryError(
                f"{robot.urdf_path.name}: joint '{name}' at {np.round(anchors[i], 3).tolist()} m (base frame, zero "
                f"pose) has no joint at its mirror image {np.round(mirrored_anchor, 3).tolist()} (nearest: "
                f"'{names[k]}', {distance[k] * 100:.1f} cm away): the robot is not left-right symmetric about its "
                "base's x-z plane, so train it without symmetry (symmetry_augment=false, symmetry_coef=0)")
        cos = float(np.dot(-MIRROR @ axes[i], axes[k]))
        if abs(cos) < 1.0 - AXIS_TOLERANCE:
            raise SymmetryError(
                f"{robot.urdf_path.name}: joint '{name}' mirrors onto '{names[k]}' but their axes are not mirror "
                f"images (cos {cos:+.3f}): the robot is not left-right symmetric, train it without symmetry "
                "(symmetry_augment=false, symmetry_coef=0)")
        partner[i], sign[i] = k, np.sign(cos)
    if any(partner[partner[i]] != i for i in range(len(names))):
        raise SymmetryError(f"{robot.urdf_path.name}: the joints' mirror partners are not pairs "
                            f"({dict(zip(names, (names[k] for k in partner), strict=True))})")
    default = np.asarray(robot.default_pose, dtype=float)
    for i, name in enumerate(names):
        if abs(sign[i] * default[i] - default[partner[i]]) > POSE_TOLERANCE:
            raise SymmetryError(
                f"{robot.yaml_path}: default_pose is not left-right symmetric: '{name}' stands at "
                f"{default[i]:+.4f} rad, so its mirror '{names[partner[i]]}' should stand at "
                f"{sign[i] * default[i]:+.4f} rad, not {default[partner[i]]:+.4f}")
    return JointMirror(partner, sign)


def _imu_mirror(robot: RobotSpec) -> np.ndarray:
    """The reflection expressed in the IMU's frame: R^T M R for an IMU rotated by R from the base."""
    rotations, _ = _zero_pose_frames(robot)
    imu = robot.base.imu_link  # type: ignore[union-attr]
    if imu not in rotations:
        raise SymmetryError(f"{robot.yaml_path}: the IMU link '{imu}' is not below the base link")
    r = rotations[imu]
    return r.T @ MIRROR @ r


def walk_mirror(robot: RobotSpec, interface: TaskInterface) -> ObservationMirror:
    """The mirror of a Walk observation and action on `robot` (field by field of `interface.layout`).

    IMU gravity is a vector (M g); the angular velocity a pseudovector (-M w); the command (forward,
    lateral, yaw rate) becomes (forward, -lateral, -yaw rate); joint fields and the last action are
    permuted to the partner joints with their signs. A layout field without a rule is refused by name."""
    joints = joint_mirror(robot)
    joint_m = joints.matrix()
    act_j = robot.actuator_joint_indices()
    action_index = {j: a for a, j in enumerate(act_j)}
    if sorted(action_index[joints.partner[j]] for j in act_j if joints.partner[j] in action_index) != list(
            range(len(act_j))):
        raise SymmetryError(f"{robot.yaml_path}: an actuated joint mirrors onto a joint without an actuator")
    action_m = joint_m[np.ix_(act_j, act_j)]
    scale = np.asarray(interface.action_scale, dtype=float)
    if not np.allclose(np.abs(action_m) @ scale, scale):
        raise SymmetryError(f"task '{interface.task}' on '{robot.name}': mirrored joints have different action "
                            "scales, so a mirrored action would command a different motion")
    imu_m = _imu_mirror(robot)
    rules = {
        "imu.projected_gravity": imu_m,
        "imu.angular_velocity_scaled": -imu_m,
        "command.velocity": np.diag([1.0, -1.0, -1.0]),
        "joint.position_offset": joint_m,
        "joint.velocity_scaled": joint_m,
        "last_action": action_m,
    }
    blocks = []
    for fld in interface.layout:
        if fld.name not in rules:
            raise SymmetryError(f"task '{interface.task}': observation field '{fld.name}' has no mirror rule "
                                f"(known: {', '.join(rules)}); train without symmetry "
                                "(symmetry_augment=false, symmetry_coef=0)")
        block = rules[fld.name]
        if block.shape != (fld.size, fld.size):
            raise SymmetryError(f"task '{interface.task}': observation field '{fld.name}' has {fld.size} values, "
                                f"its mirror rule {block.shape[0]}")
        blocks.append(block)
    size = sum(b.shape[0] for b in blocks)
    obs_m = np.zeros((size, size))
    at = 0
    for block in blocks:
        n = block.shape[0]
        obs_m[at:at + n, at:at + n] = block
        at += n
    return ObservationMirror(obs_m, action_m)
