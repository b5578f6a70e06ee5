"""Sampling MPC on threaded `mujoco.rollout` of the model: predictive sampling, or MPPI.

Each control period, from the measured joint state:

1. **Warm start**: the previous plan (one command per control step over the horizon H) shifted by
   one period, its last command held: an exact shift, so the search continues where it stopped
   (receding horizon).
2. **Sample** K plans: the warm start itself plus K-1 with Gaussian noise added at ``knots`` points
   and linearly interpolated between them (``noise`` times each actuator's command range), clipped to
   what the SafetyFilter lets through (a force actuator's effort limit; a target position's joint
   limits and per-period rate limit, cumulatively along the plan).
3. **Roll out** all K plans over H control steps in *one* call of a persistent `mujoco.rollout.Rollout`
   (its threads stay up between periods): ``substeps`` physics steps per control step, with the
   commands delayed as the robot delays them (`PlanningModel.lags`; the first steps apply the
   commands still in flight, which the planner issued itself).
4. **Update** the plan from the K costs, and send its first command. ``temperature`` 0: *predictive
   sampling* (Howell et al. 2022, MuJoCo MPC): keep the best plan. ``temperature`` > 0: *MPPI*: the
   plans averaged with weights exp(-(J - J_min) / lambda), lambda = ``temperature`` times the median
   cost's excess over the best (scale-free; a standard deviation would be dominated by the few plans
   that hit a rail).

Which update, per task (measured here, stated in `robot_rl.control.factory`):

* the cart-pole swing-up uses predictive sampling. Its cost landscape is rugged (pump left or right,
  now or half a swing later): the average of two good swing-up plans is often a bad one, and with
  MPPI the plan's own cost did not decrease from period to period; keeping the best never makes the
  warm start worse on the model, so each period's 16-32 samples add up over the swing.
* the arm reach uses MPPI. Near the goal its cost is smooth and single-valleyed, and the weighted
  mean resolves the end effector finer than the sampling noise; the best single sample stalled
  3-5 cm from the goal, a few noise widths away.

Why knots rather than one noise value per step: K is small (a 20 ms period affords 16-32 rollouts
here), so the sampled dimension must be small and each sample smooth; CEM's refit of a distribution
would need more samples than a period affords.

The compute time of each period is kept (`timings`; `timing_summary` gives p50/p99 against the
control period), which `robot-rl eval --controller mpc` reports.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from robot_rl.control.model import PlanningModel
from robot_rl.control.timing import timing_summary
from robot_rl.errors import RobotRLError

__all__ = ["MpcSettings", "SamplingMpc", "Cost"]

# cost(q, qd, sites, u, goal) -> (K,) total cost of each sampled plan; q, qd: (K, H, n_joints) after
# each control step; sites: (K, H, n_sites, 3) world positions of the model's extra sites (or None);
# u: (K, H, n_actuators) the commands issued; goal: the task's goal/command (or None).
Cost = Callable[[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None], np.ndarray]


@dataclass(frozen=True)
class MpcSettings:
    """The planner's knobs. ``horizon``: seconds planned ahead. ``samples``: plans rolled out per
    period (K, the warm start included). ``knots``: noise points over the horizon. ``noise``: the
    sampling std as a fraction of each actuator's command range (force: twice the effort limit;
    position: the rate limit of one period times ``knots``). ``temperature``: 0 for predictive
    sampling, else MPPI's lambda relative to the costs' spread. ``threads``: rollout threads
    (default: `default_threads`). ``seed``: the sampler's seed."""

    horizon: float = 1.0
    samples: int = 32
    knots: int = 6
    noise: float = 0.3
    temperature: float = 0.1
    threads: int | None = None
    seed: int = 0

    def check(self) -> None:
        if not (self.horizon > 0 and self.samples >= 2 and self.knots >= 2 and self.noise > 0
                and self.temperature >= 0):
            raise RobotRLError(f"MPC settings {self}: need horizon > 0, samples >= 2, knots >= 2, noise > 0, "
                               "temperature > 0")


class SamplingMpc:
    """MPPI on ``model`` minimizing ``cost``; `command(q, qd, goal)` is one control period's work."""

    kind = "mpc"

    def __init__(self, model: PlanningModel, cost: Cost, settings: MpcSettings | None = None,
                 rest: np.ndarray | None = None, needs_goal: bool = False):
        import mujoco.rollout

        self.settings = s = settings or MpcSettings()
        s.check()
        self.model = model
        self.cost = cost
        self.needs_goal = needs_goal  # without a goal yet (none on /goal_point), hold: nothing to plan for
        m = model.model
        self.H = max(2, int(round(s.horizon / model.control_dt)))
        self.S = model.substeps
        self.K = s.samples
        self.nu = model.nu
        self.rest = np.zeros(self.nu) if rest is None else np.asarray(rest, dtype=float)
        self.rng = np.random.default_rng(s.seed)
        threads = s.threads or default_threads()
        self.runner = mujoco.rollout.Rollout(nthread=threads)
        self.models = [m] * self.K
        self.datas = [mujoco.MjData(m) for _ in range(threads)]
        self.chunk = max(1, self.K // threads)
        self.qcol, self.vcol = model.state_columns()
        nsens = m.nsensordata
        self.n_sites = len(model.site_names)
        self.site_cols = [m.sensor_adr[m.sensor(f"{link}_pos").id] for link in model.site_names]
        # Outputs, allocated once: (K, H*S, nstate) states and sensor readings.
        self.states = np.zeros((self.K, self.H * self.S, model.nstate))
        self.sens = np.zeros((self.K, self.H * self.S, max(nsens, 1))) if self.n_sites else None
        self.ends = np.arange(self.S - 1, self.H * self.S, self.S)  # the last substep of each control step
        # Sampled perturbations: noise on the knots, linearly interpolated to the H steps: noise(step k) = W[k] @ knots.
        t_knots = np.linspace(0.0, (self.H - 1), s.knots)
        self.W = _interp_matrix(np.arange(self.H, dtype=float), t_knots)
        # Which plan step's command each substep applies: step k, substep s -> command issued lag[s] ago.
        self.src = (np.arange(self.H)[:, None] - model.lags[None, :]).ravel()  # (H*S,), < 0: in flight
        self.lo, self.hi, self.rate = model.command_limits()
        span = np.where(np.isfinite(self.hi - self.lo), self.hi - self.lo, 2.0)
        force = ~model.position_actuators
        self.sigma = np.where(force, s.noise * span, s.noise * self.rate * s.knots)
        self.timings: list[float] = []
        self.reset()

    def reset(self, q: np.ndarray | None = None) -> None:
        """A new run: the plan and the commands in flight are the rest command (zero force, or, for a
        position servo, the measured positions `q`: hold where it is)."""
        rest = self.rest.copy()
        if q is not None:
            idx = self.model.robot.actuator_joint_indices()
            rest[self.model.position_actuators] = np.asarray(q, dtype=float)[idx][self.model.position_actuators]
        self.plan = np.tile(rest, (self.H, 1))
        self.past = np.tile(rest, (max(self.model.history, 1), 1))  # past[l-1]: issued l steps ago
        self.last = rest

    def close(self) -> None:
        self.runner.close()

    # -- one period ----------------------------------------------------------------------------
    def command(self, q: np.ndarray, qd: np.ndarray, goal: np.ndarray | None = None) -> np.ndarray:
        t0 = time.perf_counter()
        K = self.K
        if goal is None and self.needs_goal:
            self.plan[:] = self.last
            self.issued(self.last.copy())
            self.timings.append(time.perf_counter() - t0)
            return self.last.copy()
        # Warm start: the previous plan, one period on, its last command held (an exact shift).
        self.plan[:-1] = self.plan[1:]
        noise = self.rng.normal(size=(K, self.settings.knots, self.nu)) * self.sigma
        noise[0] = 0.0  # the warm start itself is always a candidate
        controls = self._feasible(self.plan[None] + np.einsum("hk,bku->bhu", self.W, noise))  # (K, H, nu)
        costs = self.cost(*self.predict(q, qd, controls), controls, goal)
        costs = np.where(np.isfinite(costs), costs, np.inf)
        best = float(np.min(costs))
        if not np.isfinite(best):
            raise RobotRLError("MPC: every sampled plan diverged in the model (NaN/inf cost)")
        # The scale of the costs that matter: best to median. (A standard deviation is dominated by the
        # few plans that hit a rail or a limit, and would make every other plan weigh the same.)
        spread = float(np.median(costs) - best)
        spread = spread if np.isfinite(spread) and spread > 0 else 1.0
        if self.settings.temperature == 0:
            self.plan = controls[int(np.argmin(costs))].copy()
        else:
            w = np.exp(-(costs - best) / (self.settings.temperature * spread))
            self.plan = self._feasible(np.einsum("b,bhu->hu", w / w.sum(), controls))
        u = self.plan[0].copy()
        self.issued(u)
        self.timings.append(time.perf_counter() - t0)
        return u

    def predict(self, q: np.ndarray, qd: np.ndarray,
                controls: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The K plans (K, H, nu) rolled out from (q, qd) in one `mujoco.rollout` call: (q, qd) after each
        control step, (K, H, n_joints) each, and the extra sites' positions (K, H, n_sites, 3) or None.
        (`robot_rl.control.learned.LearnedModelMpc` replaces it with a learned model's rollout.)"""
        model, K = self.model, self.K
        x0 = model.full_state(q, qd)
        self.runner.rollout(self.models, self.datas, x0[None].repeat(K, 0), self._delayed(controls),
                            control_spec=model.mujoco.mjtState.mjSTATE_CTRL, skip_checks=True,
                            nstep=self.H * self.S, state=self.states, sensordata=self.sens, chunk_size=self.chunk)
        at = self.states[:, self.ends]
        sites = None
        if self.n_sites:
            sens = self.sens[:, self.ends]
            sites = np.stack([sens[..., c:c + 3] for c in self.site_cols], axis=2)
        return at[..., self.qcol], at[..., self.vcol], sites

    def _feasible(self, controls: np.ndarray) -> np.ndarray:
        """Plans clipped as the SafetyFilter clips commands: limits, and a position target's rate limit
        from the last command issued (a cumulative clip along the plan)."""
        controls = np.clip(controls, self.lo, self.hi)
        if np.all(np.isinf(self.rate)):
            return controls
        out = np.empty_like(controls)
        prev = np.broadcast_to(self.last, controls[..., 0, :].shape)
        for k in range(controls.shape[-2]):
            prev = np.clip(controls[..., k, :], prev - self.rate, prev + self.rate)
            out[..., k, :] = prev
        return out

    def _delayed(self, controls: np.ndarray) -> np.ndarray:
        """(K, H*S, nu) per-substep commands: each substep's issued command, in flight ones first."""
        src = self.src
        out = controls[:, np.maximum(src, 0)]
        inflight = src < 0
        if np.any(inflight):
            out[:, inflight] = self.past[-src[inflight] - 1]
        return np.ascontiguousarray(out)

    def issued(self, u: np.ndarray) -> None:
        """``u`` was issued this period (by this planner, or by the other mode of a dual-mode controller)."""
        if len(self.past) > 1:
            self.past[1:] = self.past[:-1]
        self.past[0] = u
        self.last = u

    def timing_summary(self) -> dict[str, float]:
        return timing_summary(self.timings, self.model.control_dt)

    def describe(self) -> str:
        s = self.settings
        how = "predictive sampling" if s.temperature == 0 else f"MPPI (temperature {s.temperature:g})"
        return (f"{how}, {self.K} samples x {self.H} steps ({s.horizon:g} s, {s.knots} knots) on the "
                f"{self.model.describe()}")


def default_threads() -> int:
    """Rollout threads: one core fewer than the machine has (1 to 4). Why not all: the control node's DDS
    receive threads (and, in a test, the simulated robot) need a core too, and a rollout split over
    threads waits for its slowest one: on this 2-core machine under a load of 5, the reach's 32 x 25
    step plan took p50 6.2 / p99 28 ms on 2 threads and p50 8.9 / p99 18.5 ms on 1."""
    return max(1, min(4, (os.cpu_count() or 1) - 1))


def _interp_matrix(t: np.ndarray, t_knots: np.ndarray) -> np.ndarray:
    """Rows: the weights of each knot in the linear interpolation at times `t`."""
    W = np.zeros((len(t), len(t_knots)))
    for i, ti in enumerate(t):
        j = int(np.clip(np.searchsorted(t_knots, ti, side="right") - 1, 0, len(t_knots) - 2))
        a = (ti - t_knots[j]) / (t_knots[j + 1] - t_knots[j])
        a = float(np.clip(a, 0.0, 1.0))
        W[i, j], W[i, j + 1] = 1.0 - a, a
    return W
