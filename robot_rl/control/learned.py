"""The sampling MPC planning with a learned dynamics model (`robot-rl sysid --model mlp`'s dynamics.pt).

`SamplingMpc` rolls its K plans out in MuJoCo; `LearnedModelMpc` rolls them out through the MLP of
`calibration.learned_dynamics` instead: one batched numpy forward per control step over all K plans
(H sequential steps; at K = 16, H = 50 about 2-4 ms here). Everything else is the planner's own:
sampling, warm start, the SafetyFilter-shaped limits, the cost, the update. The cost still reads the
MuJoCo `PlanningModel` for its constants (a pole's inertia and m g l) and the command limits.

What the MLP needs that MuJoCo does not: the last ``history`` measured joint states and the commands
issued before now. The planner keeps both; when another controller drove the robot in between (the
LQR of dual mode), the state history is stale and is refilled with the current state.

Why only joint-space costs (the cart-pole's balance and swing-up): the model predicts joint states,
not an end effector's position, which the reach cost needs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robot_rl.control.model import PlanningModel
from robot_rl.control.mpc import Cost, MpcSettings, SamplingMpc
from robot_rl.errors import RobotRLError

__all__ = ["LearnedModelMpc", "load_dynamics"]


def load_dynamics(path: str | Path, model: PlanningModel):
    """The learned model in `path`, checked against the planner's robot and control period (one-line errors)."""
    from calibration.learned_dynamics import LearnedDynamics
    from sim.errors import SimError

    try:
        dynamics = LearnedDynamics.load(path, model.robot)
    except SimError as exc:
        raise RobotRLError(f"--dynamics-model: {exc}") from None
    if abs(dynamics.dt - model.control_dt) > 1e-9:
        raise RobotRLError(f"--dynamics-model {path}: its step is {dynamics.dt:g} s, robot '{model.robot.name}' is "
                           f"controlled every {model.control_dt:g} s; train it at the control period")
    return dynamics


class LearnedModelMpc(SamplingMpc):
    """`SamplingMpc` whose rollouts are the learned model's (module docstring)."""

    def __init__(self, model: PlanningModel, dynamics, cost: Cost, settings: MpcSettings | None = None,
                 source: str = "", rest: np.ndarray | None = None):
        if model.site_names:
            raise RobotRLError("--dynamics-model plans in joint space; a cost on an end effector's position (the "
                               "reach) needs the MuJoCo model: drop --dynamics-model")
        self.dynamics = dynamics
        self.source = source
        super().__init__(model, cost, settings, rest)

    def reset(self, q: np.ndarray | None = None) -> None:
        super().reset(q)
        h = self.dynamics.history
        self.q_hist: np.ndarray | None = None
        self.qd_hist: np.ndarray | None = None
        self.u_past = np.tile(self.last, (h, 1))  # oldest first
        self.fresh = 0  # commands issued since the last prediction (1 = the planner's own, last period)

    def issued(self, u: np.ndarray) -> None:
        super().issued(u)
        if len(self.u_past):
            self.u_past = np.vstack([self.u_past[1:], np.asarray(u, dtype=float)[None]])
        self.fresh += 1

    def predict(self, q: np.ndarray, qd: np.ndarray,
                controls: np.ndarray) -> tuple[np.ndarray, np.ndarray, None]:
        q, qd = np.asarray(q, dtype=float), np.asarray(qd, dtype=float)
        if self.q_hist is None or self.fresh != 1:  # first period, or another controller drove in between
            self.q_hist = np.tile(q, (self.dynamics.history + 1, 1))
            self.qd_hist = np.tile(qd, (self.dynamics.history + 1, 1))
        else:
            self.q_hist = np.vstack([self.q_hist[1:], q[None]])
            self.qd_hist = np.vstack([self.qd_hist[1:], qd[None]])
        self.fresh = 0
        K = controls.shape[0]
        qs, qds = self.dynamics.rollout(np.broadcast_to(self.q_hist, (K, *self.q_hist.shape)),
                                        np.broadcast_to(self.qd_hist, (K, *self.qd_hist.shape)),
                                        np.broadcast_to(self.u_past, (K, *self.u_past.shape)), controls)
        return qs, qds, None

    def describe(self) -> str:
        s = self.settings
        how = "predictive sampling" if s.temperature == 0 else f"MPPI (temperature {s.temperature:g})"
        return (f"{how}, {self.K} samples x {self.H} steps ({s.horizon:g} s, {s.knots} knots) on the learned "
                f"dynamics model {self.source} (history {self.dynamics.history})")
