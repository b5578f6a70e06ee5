"""Open-loop gaits for any legged robot: joint targets with no policy, from the robot's description alone.

Used to show a robot steps in an engine and to measure the engines' gap with contacts
(bench/sim2sim_gap.py). Legs are found from the URDF, not from joint names: each foot of robot.yaml
`feet:` is a leg, its joints the listed joints on the chain from the base to it, its place (front or
rear, left or right) where forward kinematics puts the foot in the default pose. Numpy only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.kinematics import SerialChainFK

if TYPE_CHECKING:
    from sim.robot import RobotSpec


def legs(robot: RobotSpec) -> list[tuple[str, list[int], np.ndarray]]:
    """(foot link, indices of its listed joints from the base out, foot position in the base frame in the
    default pose) per foot of robot.yaml `feet:`."""
    if robot.base is None or robot.default_pose is None or not robot.base.feet:
        raise ValueError(f"robot '{robot.name}' ({robot.yaml_path}) has no floating base with feet and a "
                         "default_pose: no legs to move")
    pose = np.array(robot.default_pose)
    out = []
    for foot in robot.base.feet:
        fk = SerialChainFK(robot.urdf, robot.joint_names, foot)
        joints = [robot.joint_names.index(j.name) for j in fk.chain if j.type != "fixed"]
        out.append((foot, joints, fk.position(pose)))
    return out


def scripted_trot(robot: RobotSpec, seconds: float, hz: float = 2.0) -> np.ndarray:
    """Joint targets (T, n_joints) of an open-loop trot about the default pose: a gait with no policy.

    Diagonal legs (front-right + rear-left, front-left + rear-right) in antiphase at `hz`: each leg's
    second-to-last joint (the thigh) swings +-0.25 rad, its last joint (the calf) folds 0.45 rad further
    the way it is bent in the default pose, lifting the foot while the thigh swings it forward, so the
    robot walks forward. The swing's sign follows the knee's bend, so a robot whose joint axes are
    mirrored (knee bent positive) swings the same way in space.
    """
    t = np.arange(int(round(seconds * robot.control_hz))) / robot.control_hz
    pose = np.array(robot.default_pose)
    targets = np.tile(pose, (len(t), 1))
    for _, joints, foot in legs(robot):
        if len(joints) < 2:
            continue
        front, right = foot[0] > 0.0, foot[1] < 0.0
        phase = 0.0 if front == right else np.pi  # front-right and rear-left together
        s = np.sin(2 * np.pi * hz * t + phase)
        thigh, calf = joints[-2], joints[-1]
        bend = -1.0 if pose[calf] < 0.0 else 1.0
        targets[:, thigh] += -bend * 0.25 * s
        targets[:, calf] += bend * 0.45 * np.maximum(-s, 0.0)  # lift while the foot swings forward
    return targets
