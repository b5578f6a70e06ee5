"""Joint positions that put a link at a point: damped least squares on the MuJoCo model.

Why here: an LQR regulates about an operating point in joint space, and a reach's goal is a point
in space. The arm's LQR (`robot_rl.control.factory`) holds the pose this solves for. Seven joints
for three coordinates leave four free: each iteration also pulls, in the Jacobian's null space,
towards the starting pose, so the solution is the nearest reaching pose, not an arbitrary one.
"""

from __future__ import annotations

import numpy as np

from robot_rl.control.model import PlanningModel

__all__ = ["solve_position_ik"]


def solve_position_ik(model: PlanningModel, link: str, goal: np.ndarray, q_start: np.ndarray, iterations: int = 200,
                      tolerance: float = 1e-4, damping: float = 1e-3) -> tuple[np.ndarray, float]:
    """(q, distance left in m): `link`'s frame origin moved to `goal` (world frame) from `q_start`,
    joints kept inside their position limits (a margin of 1% of each range)."""
    mujoco, m = model.mujoco, model.model
    body = m.body(link).id
    d = mujoco.MjData(m)
    q = np.asarray(q_start, dtype=float).copy()
    lo = np.array([j.position_limits[0] if j.position_limits else -np.inf for j in model.robot.joints])
    hi = np.array([j.position_limits[1] if j.position_limits else np.inf for j in model.robot.joints])
    margin = np.where(np.isfinite(hi - lo), 0.01 * (hi - lo), 0.0)
    lo, hi = lo + margin, hi - margin
    jacp = np.zeros((3, m.nv))
    err = np.inf
    for _ in range(iterations):
        d.qpos[model.qadr] = q
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        e = np.asarray(goal, dtype=float) - d.xpos[body]
        err = float(np.linalg.norm(e))
        if err < tolerance:
            break
        mujoco.mj_jacBody(m, d, jacp, None, body)
        J = jacp[:, model.vadr]
        JJt = J @ J.T + damping * np.eye(3)
        step = J.T @ np.linalg.solve(JJt, e)
        null = np.eye(len(q)) - J.T @ np.linalg.solve(JJt, J)
        step += 0.1 * null @ (np.asarray(q_start) - q)
        q = np.clip(q + step, lo, hi)
    return q, err
