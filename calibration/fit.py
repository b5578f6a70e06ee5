"""The solver both engines share: two Levenberg-Marquardt passes and the intervals at the optimum.

An engine module (`mujoco_fit`, `pybullet_fit`) supplies a *problem*: a `mujoco.sysid`
`ParameterDict` (the fitted vocabulary names first, then per-segment initial-state offsets), a
residual function in `mujoco.sysid`'s convention `(x, params) -> (residual list, ...)`, per-signal
weights, and simulated joint states for any parameter vector. This module runs
`mujoco.sysid.optimize` (backed by `mujoco.minimize.least_squares`) twice and
`mujoco.sysid.calculate_intervals` once, so both engines report the same statistics:

1. weights = 1 / spread of each measured signal (positions and velocities on one footing);
2. weights = 1 / post-fit residual RMS of each signal (whitened residuals), refined from pass 1.

After pass 2 each weighted residual has unit variance if the model fits up to white sensor
noise, which is what `calculate_intervals`' single-variance, Student-t intervals assume.
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


class Problem(Protocol):
    robot: RobotSpec
    engine: str
    fit_names: list[str]
    nuisance: list[str]
    params: sysid.ParameterDict
    weights: np.ndarray

    def set_weights(self, weights: np.ndarray) -> None: ...

    def residual_fn(self) -> Callable: ...

    def predictions(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]: ...


def fit_parameters(robot: RobotSpec, values: dict[str, float], fit_names: Sequence[str], n_segments: int,
                   fit_initial_state: bool) -> tuple[sysid.ParameterDict, list[str]]:
    """The solver's parameters, whatever the engine: each fitted name within its vocabulary bounds,
    starting from `values`, plus (optionally) the per-segment initial-state nuisance parameters."""
    params = sysid.ParameterDict()
    for n in fit_names:
        lo, hi = vocabulary.bounds(n, robot.nominal[n])
        params.add(sysid.Parameter(n, nominal=values[n], min_value=lo, max_value=hi))
    nuisance = add_initial_state_params(params, n_segments, robot.joint_names) if fit_initial_state else []
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
    return np.array([vocabulary.scale(n, problem.robot.nominal[n]) for n in problem.fit_names]
                    + [0.01 if n.endswith(".q") else 0.1 for n in problem.nuisance])


def _solve(problem: Problem, start: np.ndarray, max_iters: int,
           progress: Callable[[int], None] | None) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], int]:
    """One Levenberg-Marquardt pass from `start`; returns (x, J at x, residuals at x, iterations)."""
    params = problem.params.copy()
    params.update_from_vector(start)
    params.move_off_bounds()  # a start on a bound (action_delay = 0) can stall the solver there
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
            max_iters=max_iters, x_scale=_scales(problem), output=io.StringIO(), iter_callback=on_iter, eps=1e-6,
            xtol=1e-6, mu_factor=10.0,
        )
    finally:
        absl.setLevel(level)
    x = opt_params.as_vector()
    res, _, _ = residual_fn(x, opt_params.copy())
    return x, np.asarray(result.jac), list(res), count["n"]


def solve(problem: Problem, max_iters: int = 50, progress: Callable[[int], None] | None = None) -> FitOutcome:
    """Fit the problem's parameters in two passes (module docstring) and compute 95% intervals."""
    t_start = time.perf_counter()
    x0 = problem.params.as_vector()
    before = problem.predictions(x0)
    x1, _, res1, it1 = _solve(problem, x0, max_iters, progress)
    n_sig = len(problem.weights)
    r = np.concatenate([np.reshape(rr, (-1, n_sig)) for rr in res1], axis=0)
    rms = np.sqrt(np.mean(r ** 2, axis=0)) / problem.weights  # back to physical units
    problem.set_weights(1.0 / np.maximum(rms, 1e-6 * max(float(rms.max()), 1e-12)))
    x2, jac, res2, it2 = _solve(problem, x1, max_iters, None if progress is None else (lambda k: progress(it1 + k)))
    cov, half = sysid.calculate_intervals(res2, jac)
    r2 = np.concatenate([np.reshape(rr, (-1, n_sig)) for rr in res2], axis=0)
    after = problem.predictions(x2)
    p = len(problem.fit_names)
    notes = []
    if problem.nuisance:
        offsets = ", ".join(f"{n} {v:+.4g}" for n, v in zip(problem.nuisance, x2[p:], strict=True))
        notes.append(f"initial states fitted along, as offsets from the first samples' estimate: {offsets}")
    return FitOutcome(
        names=list(problem.fit_names), start=x0[:p], fitted=x2[:p], half_width=np.asarray(half, dtype=float)[:p],
        covariance=np.asarray(cov, dtype=float)[:p, :p], iterations=it1 + it2,
        wall_s=time.perf_counter() - t_start, engine=problem.engine, predictions_before=before,
        predictions_after=after, signal_rms=np.sqrt(np.mean(r2 ** 2, axis=0)) / problem.weights, notes=notes,
    )
