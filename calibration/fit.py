"""The solver both engines share: Levenberg-Marquardt passes and the intervals at the optimum.

An engine module (`mujoco_fit`, `pybullet_fit`) supplies a *problem*: a `mujoco.sysid`
`ParameterDict` (the fitted vocabulary names first, then per-segment initial-state offsets), a
residual function in `mujoco.sysid`'s convention `(x, params) -> (residual list, ...)`, per-signal
weights, and simulated joint states for any parameter vector. This module runs
`mujoco.sysid.optimize` (backed by `mujoco.minimize.least_squares`) and
`mujoco.sysid.calculate_intervals`, so both engines report the same statistics. Why so many
passes: on readings as a robot gives them (encoder counts, noisy drive velocities; the sim
robot's `robot_rl.deploy.sensor_model`) the cost of an open-loop replay has many local minima,
and measured on the cart-pole demo's 20 s log one fit in four landed in one (45-100% off) when
the passes were only 0-2 below:

C. stage C (when the log is long enough to cut; `coarse_start`): the fitted names on the log cut
   into COARSE_WINDOW_S windows, each replayed from its own measured start. A 15 s replay of a
   lightly damped pendulum has a local minimum per cycle of phase error; a 2 s one cannot drift
   that far, so its cost has one wide basin. Positions only; the delay first on a grid (pass 0's
   reasons). Its result starts pass 2 (passes 0 and 1 are skipped);
0. only when `action_delay` is fitted and stage C did not run: the delay is found *globally*
   first. The residual is not smooth in the delay: velocities sampled once per control period see
   a servo's fast transient at an age of (period - delay mod period), so the velocity cost is a
   sawtooth with the control period (measured on the iiwa: minima at 0, 20, 40 ms for a 20 ms
   truth, a local search from 0 stops near 8 ms). The *positions* integrate those transients away
   and give a smooth, unimodal cost in the delay. So: a grid over the whole delay interval on
   position residuals (one batched, threaded rollout), then a Levenberg-Marquardt pass on
   positions alone from the best grid point with every parameter free;
1. weights = 1 / spread of each measured signal (positions and velocities on one footing)
   (skipped after pass 0 or stage C, whose residuals give pass 2 its weights directly);
2. weights = 1 / post-fit residual RMS of each signal (whitened residuals), refined from there,
   and repeated while those weights still move by more than REWHITEN_RATIO (weights taken far from
   the optimum move it: measured 5 half-widths on the cart's gain);
3. `action_delay` with a fitted initial state (a joint no servo holds): a fine grid around the fit
   (`delay_polish`), because Coulomb friction makes the cost ripple in the delay;
4. the same, when the fit still leaves more than twice the noise floor on some signal: pass 2
   restarted from the delay shifted by a tenth of a millisecond or three (`delay_restarts`).

The residual is re-whitened at the optimum by rescaling residual and Jacobian rows: each then has
unit variance if the model fits up to white sensor noise, which is what `calculate_intervals`'
single-variance, Student-t intervals assume (the whitened residual's autocorrelation at the
optimum, measured on the cart-pole demo: |r| <= 0.06 at lags 1-25, so no effective-sample-size
correction is due). The initial states estimated rather than fitted (servoed joints) add their
own share (`initial_state_covariance`). The finite differences of every pass are one batched
`mujoco.rollout` call per Jacobian over `n_threads` threads (mujoco.sysid's `model_residual`).
Weights are scaled so the largest is 1 (`unit_max`): the solver's damping range is absolute.
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
from calibration.adequacy import VALIDATION_NOISE_RATIO, noise_floor
from calibration.segments import INITIAL_WINDOW_S, Segment
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
DELAY_POLISH_SPAN_S = 0.0015  # pass 3 searches this far either side of the fit (pass 0 lands within ~0.5 ms)
DELAY_POLISH_STEP_S = 0.0001
DELAY_POLISH_ROUNDS = 3
DELAY_POLISH_GAIN = 1e-3  # relative cost reduction that moves the delay to the grid's best point
DELAY_RESTARTS_S = (-0.0003, -0.0001, 0.0001, 0.0003)  # pass 4's shifts of the delay
NOISE_FREE_FLOOR = 1e-9  # a noise floor below this is a noise-free (simulated) signal
REWHITEN_RATIO = 1.25  # pass 2 is repeated when a signal's whitening weight moves by more than this factor
REWHITEN_ROUNDS = 3
COARSE_WINDOW_S = 2.0  # stage C's windows: ~2 swings of the cart-pole's pole, a few servo time constants of an arm


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


def delay_polish(problem: Problem, x: np.ndarray, cost: float) -> np.ndarray | None:
    """Pass 3: `x` with a better `action_delay` from a fine grid around it (the others held), or None.

    Why: a joint with Coulomb friction (the cart on its rail) sticks and slips at times that shift
    with the delay, so its open-loop position, the most precise signal of the log, makes the cost
    ripple in the delay every few tenths of a millisecond. A local solver stops in the ripple it
    starts in (measured on the cart-pole demo: 14.8 ms with a sum of squares 1.7x that at the
    15 ms truth). One batched rollout over the grid finds the deeper ripple; the caller refits there.
    Run only where some joint's initial state is fitted (a joint no servo holds, whose open-loop
    position drifts and carries the ripple); on the all-servoed iiwa it never found a better delay.
    """
    i = problem.fit_names.index("action_delay")
    lo, hi = problem.params.get_bounds()
    grid = x[i] + np.arange(-DELAY_POLISH_SPAN_S, DELAY_POLISH_SPAN_S + 1e-12, DELAY_POLISH_STEP_S)
    grid = grid[(grid >= lo[i]) & (grid <= hi[i])]
    if not len(grid):
        return None
    xs = np.tile(np.asarray(x, dtype=float)[:, None], (1, len(grid)))
    xs[i] = grid
    c = costs(problem, xs)
    best = int(np.argmin(c))
    if not c[best] < cost * (1.0 - DELAY_POLISH_GAIN):
        return None
    return xs[:, best]


def _rewhiten(problem: Problem, x: np.ndarray, jac: np.ndarray, res: list[np.ndarray],
              max_iters: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], int, int | None]:
    """Pass 2 again while the whitening weights move by more than REWHITEN_RATIO (at most
    REWHITEN_ROUNDS times); returns (x, J, residuals, iterations in all, iterations of the last
    pass or None if none ran)."""
    iterations, last = 0, None
    for _ in range(REWHITEN_ROUNDS):
        new_w = _whitening(problem, res)
        if np.max(np.abs(np.log(new_w / unit_max(problem.weights)))) <= np.log(REWHITEN_RATIO):
            break
        problem.set_weights(new_w)
        x, jac, res, last = _solve(problem, x, max_iters, None)
        iterations += last
    return x, jac, res, iterations, last


def _sum_squares(res: Sequence[np.ndarray]) -> float:
    return float(sum(np.sum(np.square(r)) for r in res))


def delay_restarts(problem: Problem, x: np.ndarray, jac: np.ndarray, res: list[np.ndarray],
                   max_iters: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], int, int | None, str]:
    """Pass 4: when the fit leaves more than VALIDATION_NOISE_RATIO x the noise floor on some signal,
    pass 2 again from the delay shifted by each of DELAY_RESTARTS_S; the lowest cost wins.

    Why: pass 3's grid holds the other parameters, which have followed the delay into its ripple;
    with them free, a start 0.1 ms away leaves the ripple (measured: the cart-pole demo at 0.03 rad/s
    velocity noise stopped 0.09 ms short of the 15 ms truth with 6x the floor on the cart's position;
    from +0.1 ms the solver reached 14.995 ms at 0.69x the cost). A fit that explains the data down to
    its noise floor skips this, so it costs nothing where nothing is wrong. Returns (x, J, residuals,
    iterations in all, iterations of the pass that gave x or None if x is the one given, note).
    """
    floor = noise_floor(problem.segments)
    n_sig = len(problem.weights)
    r = np.concatenate([np.reshape(rr, (-1, n_sig)) for rr in res], axis=0)
    rms = np.sqrt(np.mean(r ** 2, axis=0)) / problem.weights
    noisy = np.isfinite(floor) & (floor > NOISE_FREE_FLOOR)
    if not np.any(noisy) or np.all(rms[noisy] <= VALIDATION_NOISE_RATIO * floor[noisy]):
        return x, jac, res, 0, None, ""
    i = problem.fit_names.index("action_delay")
    lo, hi = problem.params.get_bounds()
    best = (_sum_squares(res), x, jac, res, None)
    iterations = 0
    for shift in DELAY_RESTARTS_S:
        start = np.asarray(x, dtype=float).copy()
        start[i] = min(max(start[i] + shift, lo[i]), hi[i])
        xs, js, rs, more = _solve(problem, start, max_iters, None)
        iterations += more
        if _sum_squares(rs) < best[0] * (1.0 - DELAY_POLISH_GAIN):
            best = (_sum_squares(rs), xs, js, rs, more)
    if best[1] is x:
        return x, jac, res, iterations, None, ""
    note = (f"action_delay restarted: from {x[i] * 1e3:.3f} ms the fit left more than {VALIDATION_NOISE_RATIO:g}x "
            f"the noise floor; a start {min(abs(s) for s in DELAY_RESTARTS_S) * 1e3:g}-"
            f"{max(abs(s) for s in DELAY_RESTARTS_S) * 1e3:g} ms away found {best[1][i] * 1e3:.3f} ms at a lower cost")
    xb, jb, rb, more, last = _rewhiten(problem, best[1], best[2], best[3], max_iters)
    return xb, jb, rb, iterations + more, best[4] if last is None else last, note


def _residuals(problem: Problem, x: np.ndarray) -> list[np.ndarray]:
    res, _, _ = problem.residual_fn()(np.asarray(x, dtype=float), problem.params.copy())
    return list(res)


def _whitening(problem: Problem, res: list[np.ndarray]) -> np.ndarray:
    """Weights 1 / residual RMS per signal (physical units), from residuals taken at the current weights."""
    n_sig = len(problem.weights)
    r = np.concatenate([np.reshape(rr, (-1, n_sig)) for rr in res], axis=0)
    w = np.where(problem.weights > 0, problem.weights, 1.0)
    rms = np.sqrt(np.mean(r ** 2, axis=0)) / w  # back to physical units
    return unit_max(1.0 / np.maximum(rms, 1e-6 * max(float(rms.max()), 1e-12)))


def unit_max(weights: np.ndarray) -> np.ndarray:
    """Weights scaled so the largest is 1: the same optimum and intervals, and a conditioned solver.

    Why: the solver's damping spans 1e-6 to 1e8 of the scaled Gauss-Newton matrix. Weights of
    1 / (a 10 um encoder's noise) make that matrix ~1e10 large, no damping shortens a step, and a
    first step that fails (the cart's friction makes its position kink in the parameters) ends the
    solve where it started (measured: the held-out replay's start left 90x the floor on the cart).
    """
    weights = np.asarray(weights, dtype=float)
    return weights / max(float(np.max(weights)), 1e-300)


def coarse_start(coarse: Problem, x: np.ndarray, max_iters: int,
                 progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, str, int]:
    """Stage C: the fitted names on short windows of the log (`coarse`: their problem, no nuisance
    parameters; module docstring); returns (fitted names' values, note, iterations).

    Positions only, as pass 0: the delay is searched on a grid first (on the windows), then every
    fitted name is free.
    """
    x = np.asarray(x, dtype=float).copy()
    note = ""
    if "action_delay" in coarse.fit_names:
        x, note = delay_grid(coarse, x)
        note = note.replace("action_delay searched globally first", "action_delay searched globally") + "; "
    coarse.set_weights(_position_weights(coarse))
    xc, _, _, it = _solve(coarse, x, max_iters, progress, xtol=1e-4)
    n_windows = len(coarse.segments)
    note = (f"coarse stage: fitted on {n_windows} windows of about {COARSE_WINDOW_S:g} s (each replayed from its own "
            f"measured start, positions only), {note}then refined on the whole log")
    return xc[:len(coarse.fit_names)], note, it


def solve(problem: Problem, max_iters: int = 50, progress: Callable[[int], None] | None = None,
          coarse: Problem | None = None) -> FitOutcome:
    """Fit the problem's parameters (passes C and 0-4 of the module docstring) and compute 95% intervals.

    `coarse`: the same fitted names on short windows of the same log (`calibration.segments.windows`,
    no nuisance parameters), for stage C; None skips it.
    """
    t_start = time.perf_counter()
    x0 = problem.params.as_vector()
    before = problem.predictions(x0)
    spread = spread_weights(problem.segments)
    problem.set_weights(spread)
    start_cost = float(costs(problem, x0[:, None])[0])
    notes = []
    it0 = itc = 0
    p = len(problem.fit_names)
    x_begin = x0.copy()
    if coarse is not None:
        x_begin[:p], note, itc = coarse_start(coarse, x0[:p], max_iters, progress)
        notes.append(note)
        progress = None if progress is None else (lambda k, _p=progress: _p(itc + k))
        # Stage C replaced passes 0 and 1: its residuals on the whole log give pass 2 its weights, and
        # the re-whitening below corrects them once pass 2 has fitted the initial states too.
        problem.set_weights(spread)
        x1, res1, it1 = x_begin, _residuals(problem, x_begin), 0
    elif "action_delay" in problem.fit_names:
        x_start, note = delay_grid(problem, x_begin)
        notes.append(note)
        problem.set_weights(_position_weights(problem))
        x1, _, _, it0 = _solve(problem, x_start, max_iters, progress, xtol=1e-4)
        # Pass 0 fitted every parameter on the positions: pass 1 would only repeat it on other
        # weights, so its residuals set the whitening weights directly (one rollout, not a pass).
        problem.set_weights(spread)
        res1, it1 = _residuals(problem, x1), 0
    else:
        x1, _, res1, it1 = _solve(problem, x_begin, max_iters, progress)
    n_sig = len(problem.weights)
    problem.set_weights(_whitening(problem, res1))
    x2, jac, res2, it2 = _solve(problem, x1, max_iters,
                                None if progress is None else (lambda k: progress(it0 + it1 + k)))
    last = it2  # iterations of the pass that produced x2: did it stop at the limit?
    if "action_delay" in problem.fit_names and problem.nuisance:
        for _ in range(DELAY_POLISH_ROUNDS):
            better = delay_polish(problem, x2, _sum_squares(res2))
            if better is None:
                break
            notes.append(f"action_delay polished: a finer grid ({DELAY_POLISH_STEP_S * 1e3:g} ms steps) found "
                         f"{better[problem.fit_names.index('action_delay')] * 1e3:.3f} ms better than "
                         f"{x2[problem.fit_names.index('action_delay')] * 1e3:.3f} ms; refitted from there")
            x2, jac, res2, last = _solve(problem, better, max_iters, None)
            it2 += last
    # Pass 2 again while the whitening weights move by more than REWHITEN_RATIO: weights taken where
    # pass 0 stopped can be far from those at the optimum (a cart whose position residual shrank
    # 10x once the delay was right), and the optimum moves with them (measured: gain 5 half-widths off).
    x2, jac, res2, more, again = _rewhiten(problem, x2, jac, res2, max_iters)
    it2, last = it2 + more, last if again is None else again
    if "action_delay" in problem.fit_names and problem.nuisance:
        x2, jac, res2, more, again, note = delay_restarts(problem, x2, jac, res2, max_iters)
        it2, last = it2 + more, last if again is None else again
        if note:
            notes.append(note)
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
    if problem.nuisance:
        offsets = ", ".join(f"{n} {v:+.4g}" for n, v in zip(problem.nuisance, x2[p:], strict=True))
        notes.append(f"initial states fitted along, as offsets from the first samples' estimate: {offsets}")
    return FitOutcome(
        names=list(problem.fit_names), start=x0[:p], fitted=x2[:p], half_width=np.asarray(half, dtype=float)[:p],
        covariance=np.asarray(cov, dtype=float)[:p, :p], iterations=itc + it0 + it1 + it2,
        wall_s=time.perf_counter() - t_start, engine=problem.engine, predictions_before=before,
        predictions_after=after, signal_rms=np.sqrt(np.mean(r2 ** 2, axis=0)) / problem.weights, notes=notes,
        x=x2, jacobian=np.asarray(jac), residual=np.concatenate([np.ravel(rr) for rr in res2]),
        cost_start=start_cost, cost_fitted=fitted_cost, hit_iteration_limit=max(it1, last) >= max_iters,
    )


def initial_state_sd(seg: Segment, floor: np.ndarray) -> np.ndarray:
    """Per joint, the standard deviations of `calibration.segments.estimate_initial_state`'s q0 and qd0
    under white noise of `floor` (positions, then velocities): (J, 2).

    Its local fits (quadratic in the positions, linear in the velocities, over INITIAL_WINDOW_S)
    extrapolated to t = 0: var = sigma^2 [(X^T X)^-1]_00 of each fit's design matrix X.
    """
    nj = seg.q.shape[1]
    n = int(np.searchsorted(seg.t, seg.t[0] + INITIAL_WINDOW_S, side="right"))
    if n < 4:
        return np.stack([floor[:nj], floor[nj:]], axis=1)
    t = seg.t[:n] - seg.t[0]
    gain = [float(np.linalg.inv(np.vander(t, d + 1, increasing=True).T @ np.vander(t, d + 1, increasing=True))[0, 0])
            for d in (2, 1)]
    return np.stack([floor[:nj] * np.sqrt(gain[0]), floor[nj:] * np.sqrt(gain[1])], axis=1)


def initial_state_covariance(outcome: FitOutcome, fitted: Problem, every_joint: Problem,
                             floor: np.ndarray) -> np.ndarray | None:
    """Covariance the initial states that are estimated, not fitted, add to the fitted parameters, or None.

    Why: a servoed joint's initial state comes from the log's first 0.1 s (`initial_state_joints`
    leaves it out of the fit to save rollouts), so its noise is not in the residual the intervals
    are computed from; yet a joint with friction under a PD servo keeps a start error inside its
    stiction band, and the fit buys it back with the friction. Measured on the iiwa (exact model,
    1 mrad noise, 6 noise seeds): the friction errors were 1.5-1.8x what the intervals said; with
    the exact initial states, 0.9x. So each such initial state is moved by one standard deviation
    of its estimate (`initial_state_sd`; a secant over that step, not a derivative, so a friction
    kink inside it is averaged), one batched rollout of `every_joint` (the same fit with every
    joint's initial state as a nuisance parameter, weighted like `fitted`'s final residual), and the
    fit's linear response A = (J^T J)^-1 J^T dr adds A A^T to the covariance.
    """
    if outcome.x is None or outcome.jacobian is None or not outcome.jacobian.size:
        return None
    names = list(every_joint.fit_names) + list(every_joint.nuisance)
    have = dict(zip(list(fitted.fit_names) + list(fitted.nuisance), outcome.x, strict=True))
    x = np.array([have.get(n, 0.0) for n in names])
    columns = [i for i, n in enumerate(names) if n not in have]
    if not columns:
        return None
    sd = {}
    for k, seg in enumerate(every_joint.segments):
        spread = initial_state_sd(seg, floor)
        for j, joint in enumerate(every_joint.robot.joint_names):
            sd[f"initial{k}.{joint}.q"], sd[f"initial{k}.{joint}.qd"] = spread[j]
    steps = np.array([max(float(sd[names[c]]), 1e-12) for c in columns])
    cols = [x]
    for c, h in zip(columns, steps, strict=True):
        col = x.copy()
        col[c] += h
        cols.append(col)
    every_joint.set_weights(fitted.weights)
    res, _, _ = every_joint.residual_fn()(np.stack(cols, axis=1), every_joint.params.copy())
    r = np.concatenate([np.reshape(rr, (-1, len(cols))) for rr in res], axis=0)
    response = r[:, 1:] - r[:, :1]  # residual change per standard deviation of each initial state
    a = np.linalg.lstsq(np.asarray(outcome.jacobian), response, rcond=None)[0]
    p = len(outcome.names)
    return (a @ a.T)[:p, :p]


def fit_nuisance(problem: Problem, max_iters: int = 50, weights: np.ndarray | None = None,
                 starts: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Fit only the problem's nuisance parameters (initial states), physics frozen; returns the vector.

    For validation: the held-out data must not move a physical parameter, but a passive joint's
    initial state at the start of the held-out stretch is not known better than the noise.
    `weights`: per signal, 1 / its noise floor where the caller knows it (the residual is then judged
    on the scale it was fitted on); spread weights otherwise, which let the cart's start drift by a
    millimetre (30x its 10 um encoder's floor) to shave the pole's residual. `starts`: further
    nuisance vectors to start from besides the estimate (0); the fit with the lowest cost wins.
    """
    x0 = problem.params.as_vector()
    if not problem.nuisance:
        return x0
    problem.set_weights(spread_weights(problem.segments) if weights is None else np.asarray(weights, dtype=float))
    p = len(problem.fit_names)
    best, best_cost = x0, np.inf
    for offsets in [x0[p:], *starts]:
        start = x0.copy()
        start[p:] = offsets
        x, _, res, _ = _solve(problem, start, min(max_iters, NUISANCE_MAX_ITERS), None, xtol=1e-4,
                              frozen=list(problem.fit_names))
        cost = float(sum(np.sum(np.square(r)) for r in res))
        if cost < best_cost:
            best, best_cost = x, cost
    return best
