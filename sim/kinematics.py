"""Forward kinematics of a serial URDF chain in numpy.

Why here and not in an engine: a reach task's observation includes the end-effector position,
and the deploy runtime must compute exactly the same observation from joint positions alone,
with no simulator installed. So FK is a pure numpy function of the URDF.
"""

from __future__ import annotations

import numpy as np

from sim.urdf import Urdf, UrdfJoint


def _rpy_matrix(rpy: tuple[float, float, float]) -> np.ndarray:
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.array([
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ])


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    x, y, z = axis
    c, s = np.cos(angle), np.sin(angle)
    C = 1 - c
    return np.array([
        [c + x * x * C, x * y * C - z * s, x * z * C + y * s],
        [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
        [z * x * C - y * s, z * y * C + x * s, c + z * z * C],
    ])


class SerialChainFK:
    """Position of `tip_link` in the root frame as a function of the chain's joint positions."""

    def __init__(self, urdf: Urdf, joint_names: tuple[str, ...], tip_link: str):
        by_child = {j.child: j for j in urdf.joints.values()}
        chain: list[UrdfJoint] = []
        link = tip_link
        while link in by_child:
            chain.append(by_child[link])
            link = by_child[link].parent
        self.chain = chain[::-1]
        self.index = []
        for j in self.chain:
            if j.type == "fixed":
                self.index.append(-1)
            elif j.name in joint_names:
                self.index.append(joint_names.index(j.name))
            else:
                raise ValueError(f"joint '{j.name}' on the chain to '{tip_link}' is not among {joint_names}")
        self._origins = [(_rpy_matrix(j.origin_rpy), np.asarray(j.origin_xyz, float)) for j in self.chain]
        self._axes = [np.asarray(j.axis, float) / np.linalg.norm(j.axis) for j in self.chain]

    def position(self, q: np.ndarray) -> np.ndarray:
        R = np.eye(3)
        p = np.zeros(3)
        for joint, (Ro, po), axis, idx in zip(self.chain, self._origins, self._axes, self.index, strict=True):
            p = p + R @ po
            R = R @ Ro
            if idx >= 0:
                if joint.type == "prismatic":
                    p = p + R @ (axis * q[idx])
                else:
                    R = R @ _axis_angle(axis, float(q[idx]))
        return p
