"""LQR about an operating point of the (calibrated) MuJoCo model, at the control period.

Design, in order:

1. Linearize one *control step* (``substeps`` physics steps with the command held, delayed as the
   robot delays it) at the operating point (q0, qd0 = 0, u0): `PlanningModel.control_step_jacobians`,
   composed from `mujoco.mjd_transitionFD`. x' = A x + B_0 u_k + B_1 u_{k-1} + ... (B_l: commands
   still in flight after ``action_delay``).
2. Augment the state with the commands in flight, z = (q - q0, qd, u_{k-1} - u0, ..., u_{k-L} - u0):
   a delayed system is then an ordinary one, and the gain accounts for the delay the model has (a
   calibrated 15 ms on the cart-pole is most of a 20 ms period: ignored, it costs phase margin).
3. Solve the discrete algebraic Riccati equation (`scipy.linalg.solve_discrete_are`) for
   J = sum z'Qz + du'R du, du = u - u0, and K = (R + B'PB)^-1 B'PA. The law is u = u0 - K z.

Costs (stated, overridable with `LqrWeights`): per joint, position error weight ``q_pos`` (1/m^2 or
1/rad^2), velocity weight ``q_vel``; per actuator a command weight ``r`` in 1/(command unit)^2. The
defaults are Bryson's rule with the deviation one would accept: for the cart-pole 0.1 m of cart,
0.05 rad of pole, 1 m/s and 1 rad/s, 2 N of force; for an arm 0.01 rad of joint error,
0.5 rad/s, 0.05 rad of target offset (a position servo's command is a target position: u0 is the
target that holds the pose against gravity, `PlanningModel.equilibrium_command`, and the LQR moves
the targets about it). Why not stiffer on an arm: the SafetyFilter moves a target at most the
joint's velocity limit per period, and a gain tuned for 1 mrad asked for jumps far past that; the
saturated loop went into a limit cycle 15-30 cm off the goal (measured on the iiwa), while at
0.01 rad the reach ends within 0.3 mm.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from robot_rl.control.model import PlanningModel
from robot_rl.control.timing import timing_summary
from robot_rl.errors import RobotRLError

__all__ = ["LqrController", "LqrWeights", "augment_delay", "dlqr"]


def dlqr(A: np.ndarray, B: np.ndarray, Q: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, P) of the infinite-horizon discrete LQR x' = Ax + Bu, cost sum x'Qx + u'Ru; u = -Kx."""
    from scipy.linalg import LinAlgError, solve_discrete_are

    try:
        P = solve_discrete_are(A, B, Q, R)
    except (LinAlgError, ValueError) as exc:
        raise RobotRLError(f"LQR: the Riccati equation has no stabilizing solution ({exc}); the linearized "
                           "model is not stabilizable from its actuators at this operating point") from exc
    K = np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)
    return K, P


def augment_delay(A: np.ndarray, Bs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The delayed system x' = A x + sum_l B_l u_{k-l} as an undelayed one on z = (x, u_{k-1}, ..., u_{k-L})."""
    n, nu = A.shape[0], Bs[0].shape[1]
    L = len(Bs) - 1
    N = n + L * nu
    Az = np.zeros((N, N))
    Bz = np.zeros((N, nu))
    Az[:n, :n] = A
    for l_ in range(1, L + 1):
        Az[:n, n + (l_ - 1) * nu: n + l_ * nu] = Bs[l_]
    Bz[:n] = Bs[0]
    if L:
        Bz[n:n + nu] = np.eye(nu)  # u_k becomes u_{k-1}
        for l_ in range(1, L):  # u_{k-l} becomes u_{k-l-1}
            Az[n + l_ * nu: n + (l_ + 1) * nu, n + (l_ - 1) * nu: n + l_ * nu] = np.eye(nu)
    return Az, Bz


@dataclass(frozen=True)
class LqrWeights:
    """Diagonal LQR weights: per joint (robot.yaml order) ``q_pos`` and ``q_vel``, per actuator ``r``."""

    q_pos: tuple[float, ...]
    q_vel: tuple[float, ...]
    r: tuple[float, ...]

    @staticmethod
    def bryson(pos: list[float], vel: list[float], cmd: list[float]) -> LqrWeights:
        """Weights 1 / (accepted deviation)^2 (Bryson's rule)."""
        return LqrWeights(tuple(1.0 / v**2 for v in pos), tuple(1.0 / v**2 for v in vel),
                          tuple(1.0 / v**2 for v in cmd))

    def matrices(self, n_joints: int, n_act: int, history: int) -> tuple[np.ndarray, np.ndarray]:
        if len(self.q_pos) != n_joints or len(self.q_vel) != n_joints or len(self.r) != n_act:
            raise RobotRLError(f"LQR weights: expected {n_joints} position and velocity weights and {n_act} "
                               f"command weights, got {len(self.q_pos)}, {len(self.q_vel)}, {len(self.r)}")
        q = np.concatenate([self.q_pos, self.q_vel, np.zeros(history * n_act)])
        return np.diag(q), np.diag(np.asarray(self.r, dtype=float))


class LqrController:
    """u = u0 - K z about the operating point (q0, 0, u0) of ``model``; z also holds the commands in flight.

    ``weights``: `LqrWeights` (default: `default_weights`). Angles of joints without position limits
    (the cart-pole's continuous hinge) are compared with q0 modulo 2 pi, so a pole measured at 2 pi + 0.1
    is 0.1 rad from upright.

    The commands in flight are the ones this controller issued, clipped as the SafetyFilter will clip
    them (the effort limit of a force actuator; a position target to the joint's limits and to the rate
    limit per period): the model of what the robot received. The filter still checks every command.
    """

    kind = "lqr"

    def __init__(self, model: PlanningModel, q0: np.ndarray, weights: LqrWeights | None = None,
                 u0: np.ndarray | None = None):
        self.model = model
        robot = model.robot
        self.q0 = np.asarray(q0, dtype=float)
        self.u0 = model.equilibrium_command(self.q0) if u0 is None else np.asarray(u0, dtype=float)
        self.weights = weights or default_weights(model)
        A, Bs = model.control_step_jacobians(self.q0, np.zeros(model.nv), self.u0)
        self.A, self.B = augment_delay(A, Bs)
        Q, R = self.weights.matrices(len(robot.joints), model.nu, model.history)
        self.K, self.P = dlqr(self.A, self.B, Q, R)
        self.wrap = np.array([j.position_limits is None and j.type != "prismatic" for j in robot.joints])
        self.lo, self.hi, self.rate = model.command_limits()
        self.timings: list[float] = []
        self.reset()

    def reset(self, q: np.ndarray | None = None) -> None:
        """Nothing in flight: the commands before the start were the operating point's (at rest)."""
        self.past = np.tile(self.u0, (self.model.history, 1))
        self.last = self.u0.copy() if q is None else _hold_targets(self.model, q, self.u0)

    def closed_loop_eigenvalues(self) -> np.ndarray:
        """Eigenvalues of A - BK of the (augmented) linear model: inside the unit circle = stable."""
        return np.linalg.eigvals(self.A - self.B @ self.K)

    def error(self, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        dq = np.asarray(q, dtype=float) - self.q0
        dq[self.wrap] = np.remainder(dq[self.wrap] + np.pi, 2 * np.pi) - np.pi
        return np.concatenate([dq, np.asarray(qd, dtype=float), (self.past - self.u0).ravel()])

    def retarget(self, q0: np.ndarray) -> None:
        """Hold another pose with the same gain: q0 and its equilibrium command u0 change, K stays (the
        gain of a position-servoed arm changes little across its workspace; re-solving the Riccati
        equation for every goal would cost a period's time)."""
        self.q0 = np.asarray(q0, dtype=float)
        self.u0 = self.model.equilibrium_command(self.q0)  # the commands in flight stay what was sent

    def command(self, q: np.ndarray, qd: np.ndarray, goal: np.ndarray | None = None) -> np.ndarray:
        t0 = time.perf_counter()
        u = self.u0 - self.K @ self.error(q, qd)
        u = np.clip(u, self.lo, self.hi)
        u = np.clip(u, self.last - self.rate, self.last + self.rate)
        self.push(u)
        self.timings.append(time.perf_counter() - t0)
        return u

    def push(self, u: np.ndarray) -> None:
        """``u`` was issued this period (by this controller, or by another mode of a dual-mode one)."""
        if len(self.past):
            self.past[1:] = self.past[:-1]
            self.past[0] = u
        self.last = np.asarray(u, dtype=float)

    def timing_summary(self) -> dict[str, float]:
        return timing_summary(self.timings, self.model.control_dt)

    def describe(self) -> str:
        return f"LQR at q0={np.round(self.q0, 3).tolist()} on the {self.model.describe()}"


def default_weights(model: PlanningModel) -> LqrWeights:
    """Bryson's rule with the deviations named in the module docstring, per kind of joint and actuator."""
    robot = model.robot
    pos, vel = [], []
    for j in robot.joints:
        if j.type == "prismatic":
            pos.append(0.1)
            vel.append(1.0)
        elif j.position_limits is None:  # a free pole: keep it upright
            pos.append(0.05)
            vel.append(1.0)
        else:
            pos.append(0.01)
            vel.append(0.5)
    cmd = [2.0 if a.type == "force" else 0.05 for a in robot.actuators]
    return LqrWeights.bryson(pos, vel, cmd)


def _hold_targets(model: PlanningModel, q: np.ndarray, u0: np.ndarray) -> np.ndarray:
    """Where the rate limit starts: the measured positions for a position servo (as the filter's
    ramp starts there), the operating command for a force actuator."""
    out = u0.copy()
    idx = model.robot.actuator_joint_indices()
    out[model.position_actuators] = np.asarray(q, dtype=float)[idx][model.position_actuators]
    return out
