"""The solver both engines share: two Levenberg-Marquardt passes and the intervals at the optimum.

An engine module (`mujoco_fit`, `pybullet_fit`) supplies a *problem*: a `mujoco.sysid`
`ParameterDict` (the fitted vocabulary names first, then per-segment initial-state offsets), a
residual function in `mujoco.sysid`'s convention `(x, params) -> (residual list, ...)`, per-signal
weights, and simulated joint states for any parameter vector. This module runs
`mujoco.sysid.optimize` (backed by `mujoco.minimize.least_squares`) twice and
`mujoco.sysid.calculate_intervals` once, so both engines report the same statistics:

0. only when `action_delay` is fitted: the delay is found *globally* first. The residual is not
   smooth in the delay: velocities sampled once per control period see a servo's fast transient
   at an age of (period - delay mod period), so the velocity cost is a sawtooth with the control
   period (measured on the iiwa: minima at 0, 20, 40 ms for a 20 ms truth, a local search from 0
   stops near 8 ms). The *positions* integrate those transients away and give a smooth, unimodal
   cost in the delay. So: a grid over the whole delay interval on position residuals (one
   batched, threaded rollout), then a Levenberg-Marquardt pass on positions alone from the best
   grid point with every parameter free;
1. weights = 1 / spread of each measured signal (positions and velocities on one footing)
   (skipped after pass 0, whose residuals give pass 2 its weights directly);
2. weights = 1 / post-fit residual RMS of each signal (whitened residuals), refined from pass 1,
   and re-whitened at the optimum by rescaling residual and Jacobian rows.

After pass 2 each weighted residual has unit variance if the model fits up to white sensor
noise, which is what `calculate_intervals`' single-variance, Student-t intervals assume.
The finite differences of every pass are one batched `mujoco.rollout` call per Jacobian over
`n_threads` threads (mujoco.sysid's `model_residual`), so both cores work.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from mujoco import sysid

from calibration import vocabulary
from calibration.segments import Segment
from sim.robot import RobotSpec

INITIAL_Q_RANGE = 0.1  # m or rad: initial-state offsets searched around the estimate from the log
INITIAL_QD_RANGE = 1.0  # m/s or rad/s


@dataclass
class FitOutcome:
    """The numbers a fit produced, engine-independent (what `identify` turns into files)."""

    names: list[str]
    start: np.ndarray
    fitted: np.ndarray
    half_width: np.ndarray  # 95% Student-t half-widths; inf where the data cannot tell
    covariance: np.ndarray
    iterations: int
    wall_s: float
    engine: str
    predictions_before: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (q, qd) per segment
    predictions_after: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    signal_rms: np.ndarray | None = None  # post-fit residual RMS per signal (positions, then velocities)
    notes: list[str] = field(default_factory=list)
    x: np.ndarray | None = None  # full solver vector at the optimum (fitted names, then nuisance)
    jacobian: np.ndarray | None = None  # of the final, whitened residual at x
    residual: np.ndarray | None = None  # final whitened residual at x
    cost_start: float = float("nan")  # sum of squares at the start, first-pass (spread) weights
    cost_fitted: float = float("nan")  # the same after the first-pass fit
    hit_iteration_limit: bool = False


class Problem(Protocol):
    robot: RobotSpec
    engine: str
    fit_names: list[str]
    nuisance: list[str]
    params: sysid.ParameterDict
    weights: np.ndarray
    segments: list[Segment]

    def set_weights(self, weights: np.ndarray) -> None: ...

    def residual_fn(self) -> Callable: ...

    def predictions(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]: ...


def initial_state_joints(robot: RobotSpec) -> list[str]:
    """Joints whose initial state is worth fitting: those not held by a position (PD) servo.

    A servoed joint forgets an initial-state error within a few servo time constants (tens of ms
    on the iiwa), so its offsets would only cost two extra rollouts each per Jacobian; a passive or
    force-driven joint (the cart-pole's pole and cart) carries the error through the whole log.
    """
    servoed = {a.joint for a in robot.actuators if a.type == "position"}
    return [j for j in robot.joint_names if j not in servoed]


def fit_parameters(robot: RobotSpec, values: dict[str, float], fit_names: Sequence[str], n_segments: int,
                   fit_initial_state: bool,
                   initial_joints: Sequence[str] | None = None) -> tuple[sysid.ParameterDict, list[str]]:
    """The solver's parameters, whatever the engine: each fitted name within its vocabulary bounds,
    starting from `values`, plus (optionally) the per-segment initial-state nuisance parameters of
    the joints `initial_state_joints` names (or `initial_joints`)."""
    params = sysid.ParameterDict()
    for n in fit_names:
        lo, hi = vocabulary.bounds(n, robot.nominal[n], robot)
        params.add(sysid.Parameter(n, nominal=values[n], min_value=lo, max_value=hi))
    joints = initial_state_joints(robot) if initial_joints is None else list(initial_joints)
    nuisance = add_initial_state_params(params, n_segments, joints) if fit_initial_state and joints else []
    return params, nuisance


def add_initial_state_params(params: sysid.ParameterDict, n_segments: int, joint_names: Sequence[str]) -> list[str]:
    """Add per-segment initial-state offsets (nuisance parameters) and return their names.

    A lightly damped pendulum carries an initial-state error through the whole log; fitting the
    start along keeps that error out of the physical parameters and widens their intervals honestly.
    """
    names = []
    for k in range(n_segments):
        for j in joint_names:
            for what, width in (("q", INITIAL_Q_RANGE), ("qd", INITIAL_QD_RANGE)):
                name = f"initial{k}.{j}.{what}"
                names.append(name)
                params.add(sysid.Parameter(name, nominal=0.0, min_value=-width, max_value=width))
    return names


def spread_weights(segments: Sequence[Segment]) -> np.ndarray:
    """First-pass weights: 1 / standard deviation of each measured signal (positions, velocities), floored."""
    data = np.vstack([np.hstack([s.q, s.qd]) for s in segments])
    std = data.std(axis=0)
    return 1.0 / np.maximum(std, 1e-3 * max(float(std.max()), 1e-9))


def _scales(problem: Problem) -> np.ndarray:
    return np.array([vocabulary.scale(n, problem.robot.nominal[n], problem.robot) for n in problem.fit_names]
                    + [0.01 if n.endswith(".q") else 0.1 for n in problem.nuisance])


NUISANCE_MAX_ITERS = 10  # initial states only: a few Gauss-Newton steps settle them
DELAY_GRID_STEP_S = 0.005  # coarse enough for one rollout batch, fine enough for the smooth position cost


def _solve(problem: Problem, start: np.ndarray, max_iters: int, progress: Callable[[int], None] | None,
           xtol: float = 1e-6, frozen: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], int]:
    """One Levenberg-Marquardt pass from `start`; returns (x, J at x, residuals at x, iterations).

    Names in `frozen` keep their start values (x still has every entry; J only the free columns).
    """
    params = problem.params.copy()
    params.update_from_vector(start)
    params.move_off_bounds()  # a start on a bound (action_delay = 0) can stall the solver there
    for n in frozen:
        params[n].frozen = True
    free = np.array([n not in frozen for n in list(problem.fit_names) + list(problem.nuisance)])
    count = {"n": 0}

    def on_iter(trace) -> None:
        count["n"] = len(trace)
        if progress is not None:
            progress(len(trace))

    residual_fn = problem.residual_fn()
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)  # sysid logs a comparison table and bound warnings we report ourselves
    try:
        opt_params, result = sysid.optimize(
            initial_params=params, residual_fn=residual_fn, optimizer="mujoco", verbose=False,
            max_iters=max_iters, x_scale=_scales(problem)[free], output=io.StringIO(), iter_callback=on_iter,
            eps=1e-6, xtol=xtol, mu_factor=10.0,
        )
    finally:
        absl.setLevel(level)
    res, _, _ = residual_fn(opt_params.as_vector(), opt_params.copy())
    x = opt_params.as_vector(include_frozen=True)
    return x, np.asarray(result.jac), list(res), count["n"]


def costs(problem: Problem, xs: np.ndarray) -> np.ndarray:
    """Weighted sum of squared residuals for each column of `xs` (one batched rollout)."""
    res, _, _ = problem.residual_fn()(np.asarray(xs, dtype=float), problem.params.copy())
    return np.sum(np.concatenate([np.reshape(r, (-1, xs.shape[1])) for r in res], axis=0) ** 2, axis=0)


def _position_weights(problem: Problem) -> np.ndarray:
    w = spread_weights(problem.segments).copy()
    w[len(w) // 2:] = 0.0  # velocities off: see pass 0 in the module docstring
    return w


def delay_grid(problem: Problem, x: np.ndarray) -> tuple[np.ndarray, str]:
    """Pass 0a: the best `action_delay` on a grid over its whole search interval, position residuals only."""
    i = problem.fit_names.index("action_delay")
    lo, hi = vocabulary.bounds("action_delay", problem.robot.nominal["action_delay"], problem.robot)
    grid = np.arange(lo, hi + 1e-12, DELAY_GRID_STEP_S)
    xs = np.tile(np.asarray(x, dtype=float)[:, None], (1, len(grid)))
    xs[i] = grid
    weights = problem.weights
    problem.set_weights(_position_weights(problem))
    try:
        c = costs(problem, xs)
    finally:
        problem.set_weights(weights)
    best = int(np.argmin(c))
    out = np.asarray(x, dtype=float).copy()
    out[i] = grid[best]
    note = (f"action_delay searched globally first: grid {lo * 1e3:g}-{hi * 1e3:g} ms every "
            f"{DELAY_GRID_STEP_S * 1e3:g} ms on position residuals, best {grid[best] * 1e3:g} ms, then refined")
    return out, note


def _residuals(problem: Problem, x: np.ndarray) -> list[np.ndarray]:
    res, _, _ = problem.residual_fn()(np.asarray(x, dtype=float), problem.params.copy())
    return list(res)


def _whitening(problem: Problem, res: list[np.ndarray]) -> np.ndarray:
    """Weights 1 / residual RMS per signal (physical units), from residuals taken at the current weights."""
    n_sig = len(problem.weights)
    r = np.concatenate([np.reshape(rr, (-1, n_sig)) for rr in res], axis=0)
    w = np.where(problem.weights > 0, problem.weights, 1.0)
    rms = np.sqrt(np.mean(r ** 2, axis=0)) / w  # back to physical units
    return 1.0 / np.maximum(rms, 1e-6 * max(float(rms.max()), 1e-12))


def solve(problem: Problem, max_iters: int = 50, progress: Callable[[int], None] | None = None) -> FitOutcome:
    """Fit the problem's parameters (passes 0-2 of the module docstring) and compute 95% intervals."""
    t_start = time.perf_counter()
    x0 = problem.params.as_vector()
    before = problem.predictions(x0)
    spread = spread_weights(problem.segments)
    problem.set_weights(spread)
    start_cost = float(costs(problem, x0[:, None])[0])
    notes = []
    it0 = 0
    if "action_delay" in problem.fit_names:
        x_start, note = delay_grid(problem, x0)
        notes.append(note)
        problem.set_weights(_position_weights(problem))
        x1, _, _, it0 = _solve(problem, x_start, max_iters, progress, xtol=1e-4)
        # Pass 0 fitted every parameter on the positions: pass 1 would only repeat it on other
        # weights, so its residuals set the whitening weights directly (one rollout, not a pass).
        problem.set_weights(spread)
        res1, it1 = _residuals(problem, x1), 0
    else:
        x1, _, res1, it1 = _solve(problem, x0, max_iters, progress)
    n_sig = len(problem.weights)
    problem.set_weights(_whitening(problem, res1))
    x2, jac, res2, it2 = _solve(problem, x1, max_iters,
                                None if progress is None else (lambda k: progress(it0 + it1 + k)))
    # Whiten once more at the optimum by rescaling rows (no further pass): the intervals assume
    # unit-variance residuals on every signal.
    old_w = problem.weights
    problem.set_weights(_whitening(problem, res2))
    factor = problem.weights / old_w
    res2 = [np.ravel(np.reshape(rr, (-1, n_sig)) * factor) for rr in res2]
    jac = np.asarray(jac) * np.tile(factor, len(jac) // n_sig)[:, None]
    cov, half = sysid.calculate_intervals(res2, jac)
    r2 = np.concatenate([np.reshape(rr, (-1, n_sig)) for rr in res2], axis=0)
    final_w = problem.weights
    problem.set_weights(spread)
    fitted_cost = float(costs(problem, x2[:, None])[0])  # comparable with start_cost
    problem.set_weights(final_w)
    after = problem.predictions(x2)
    p = len(problem.fit_names)
    if problem.nuisance:
        offsets = ", ".join(f"{n} {v:+.4g}" for n, v in zip(problem.nuisance, x2[p:], strict=True))
        notes.append(f"initial states fitted along, as offsets from the first samples' estimate: {offsets}")
    return FitOutcome(
        names=list(problem.fit_names), start=x0[:p], fitted=x2[:p], half_width=np.asarray(half, dtype=float)[:p],
        covariance=np.asarray(cov, dtype=float)[:p, :p], iterations=it0 + it1 + it2,
        wall_s=time.perf_counter() - t_start, engine=problem.engine, predictions_before=before,
        predictions_after=after, signal_rms=np.sqrt(np.mean(r2 ** 2, axis=0)) / problem.weights, notes=notes,
        x=x2, jacobian=np.asarray(jac), residual=np.concatenate([np.ravel(rr) for rr in res2]),
        cost_start=start_cost, cost_fitted=fitted_cost, hit_iteration_limit=max(it1, it2) >= max_iters,
    )


def fit_nuisance(problem: Problem, max_iters: int = 50) -> np.ndarray:
    """Fit only the problem's nuisance parameters (initial states), physics frozen; returns the vector.

    For validation: the held-out data must not move a physical parameter, but a passive joint's
    initial state at the start of the held-out stretch is not known better than the noise.
    """
    x0 = problem.params.as_vector()
    if not problem.nuisance:
        return x0
    problem.set_weights(spread_weights(problem.segments))
    x, _, _, _ = _solve(problem, x0, min(max_iters, NUISANCE_MAX_ITERS), None, xtol=1e-4,
                        frozen=list(problem.fit_names))
    return x
