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


class SerialChainFK:
    """Position of `tip_link` in the root frame as a function of the chain's joint positions.

    Every joint's fixed origin transform and Rodrigues terms are precomputed, so one evaluation is a
    handful of vectorized numpy calls over all joints (it runs every control period on the robot).
    """

    def __init__(self, urdf: Urdf, joint_names: tuple[str, ...], tip_link: str):
        by_child = {j.child: j for j in urdf.joints.values()}
        chain: list[UrdfJoint] = []
        link = tip_link
        while link in by_child:
            chain.append(by_child[link])
            link = by_child[link].parent
        self.chain = chain[::-1]
        n = len(self.chain)
        self._origin = np.zeros((n, 4, 4))
        self._K = np.zeros((n, 3, 3))  # skew matrix of each revolute axis (zero for fixed/prismatic)
        self._slide = np.zeros((n, 3))  # axis of each prismatic joint (zero otherwise)
        self._index = np.zeros(n, dtype=np.intp)
        self._moves = np.zeros(n, dtype=bool)
        for k, j in enumerate(self.chain):
            self._origin[k, :3, :3] = _rpy_matrix(j.origin_rpy)
            self._origin[k, :3, 3] = j.origin_xyz
            self._origin[k, 3, 3] = 1.0
            if j.type == "fixed":
                continue
            if j.name not in joint_names:
                raise ValueError(f"joint '{j.name}' on the chain to '{tip_link}' is not among {joint_names}")
            self._index[k], self._moves[k] = joint_names.index(j.name), True
            x, y, z = np.asarray(j.axis, float) / np.linalg.norm(j.axis)
            if j.type == "prismatic":
                self._slide[k] = (x, y, z)
            else:
                self._K[k] = [[0, -z, y], [z, 0, -x], [-y, x, 0]]
        self._K2 = self._K @ self._K
        self._local = np.tile(np.eye(4), (n, 1, 1))
        self._eye3 = np.eye(3)

    def position(self, q: np.ndarray) -> np.ndarray:
        angle = np.where(self._moves, np.asarray(q, dtype=float)[self._index], 0.0)
        s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
        local = self._local
        local[:, :3, :3] = np.eye(3) + s * self._K + (1.0 - c) * self._K2  # Rodrigues (identity if not revolute)
        local[:, :3, 3] = self._slide * angle[:, None]
        T = self._origin @ local
        out = T[0]
        for k in range(1, len(T)):
            out = out @ T[k]
        return out[:3, 3].copy()

    def positions(self, q: np.ndarray) -> np.ndarray:
        """`position` for a batch q[N, n_joints] -> [N, 3], in one set of array operations.

        Why: a reach task evaluates FK for every env at every control step (reward, success and
        observation); a Python loop over the batch was ~40% of the vector env's step time.
        """
        q = np.asarray(q, dtype=float)
        angle = np.where(self._moves, q[:, self._index], 0.0)  # [N, n]
        s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
        local = np.zeros((*angle.shape, 4, 4))
        local[..., :3, :3] = self._eye3 + s * self._K + (1.0 - c) * self._K2
        local[..., :3, 3] = self._slide * angle[..., None]
        local[..., 3, 3] = 1.0
        T = self._origin @ local  # [N, n, 4, 4]
        out = T[:, 0]
        for k in range(1, T.shape[1]):
            out = out @ T[:, k]
        return out[:, :3, 3].copy()
