"""Swing-up: the sampling MPC far from upright, the LQR of the same model inside its terminal region.

Dual-mode MPC (Michalska and Mayne, 1993): the receding-horizon controller steers the state into a
terminal region around the goal, inside which a local linear controller is known to stabilize it.
Here the region is a sublevel set of the LQR's cost-to-go z'Pz (``enter``; about 0.3 rad from upright
at rest for the cart-pole's default weights); the MPC hands over when the state enters it and takes
back over only past a larger level (``leave``), so noise at the border does not toggle the modes.

Why not the MPC alone: balancing an inverted pendulum with open-loop sampled plans needs plans
accurate to a fraction of the pole's instability time (1/5.4 s here) over the whole horizon; with
the 16-32 samples a 20 ms period affords, the sampled plans all fall over within the horizon and the
least bad one is not a balancing one (measured: from 0.1 rad, predictive sampling and MPPI both lost
the pole). The swing-up needs the horizon, the balance needs feedback: each mode does its part, on
the one model.
"""

from __future__ import annotations

import time

import numpy as np

from robot_rl.control.lqr import LqrController
from robot_rl.control.mpc import SamplingMpc
from robot_rl.control.timing import timing_summary

__all__ = ["DualMode"]


class DualMode:
    """MPC outside {z'Pz < enter} of the LQR, LQR inside until z'Pz > leave."""

    kind = "mpc"

    def __init__(self, mpc: SamplingMpc, lqr: LqrController, enter: float = 700.0, leave: float = 2000.0):
        if not 0 < enter <= leave:
            raise ValueError(f"dual mode: need 0 < enter <= leave, got {enter}, {leave}")
        self.mpc, self.lqr = mpc, lqr
        self.model = mpc.model
        self.enter, self.leave = enter, leave
        self.balancing = False
        self.timings: list[float] = []
        self.mpc_timings = mpc.timings
        self.handovers = 0

    def reset(self, q: np.ndarray | None = None) -> None:
        self.mpc.reset(q)
        self.lqr.reset(q)
        self.balancing = False

    def command(self, q: np.ndarray, qd: np.ndarray, goal: np.ndarray | None = None) -> np.ndarray:
        t0 = time.perf_counter()
        z = self.lqr.error(q, qd)
        value = float(z @ self.lqr.P @ z)
        was = self.balancing
        self.balancing = value < (self.leave if self.balancing else self.enter)
        if self.balancing:
            self.handovers += not was
            u = self.lqr.command(q, qd)
            self.mpc.issued(u)  # the MPC's commands in flight, should it take over again
            self.mpc.plan[:] = u
        else:
            u = self.mpc.command(q, qd, goal)
            self.lqr.push(u)
        self.timings.append(time.perf_counter() - t0)
        return u

    def timing_summary(self) -> dict[str, float]:
        """Every period's compute, plus the MPC periods' alone (``mpc_*``: the costly ones)."""
        out = timing_summary(self.timings, self.model.control_dt)
        mpc = timing_summary(self.mpc_timings, self.model.control_dt)
        out.update({f"mpc_{k}": v for k, v in mpc.items() if k != "control_period_ms"})
        return out

    def describe(self) -> str:
        return (f"{self.mpc.describe()}; LQR inside z'Pz < {self.enter:g} (leaves past {self.leave:g})")
