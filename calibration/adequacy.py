"""Is the fitted model right? Noise floor, held-out validation, convergence, and what to fit next.

A least-squares fit always returns numbers; whether they describe the robot is a separate
question, answered here from the data alone:

- **noise floor** per signal (`noise_floor`): the measurement noise, estimated without any model
  from the log's *quietest* stretches: per 0.5 s window, the variance of the third difference of
  the signal divided by 20 (the third difference of white noise has variance 20 sigma^2, that of a
  signal smooth at the sampling rate nearly none); the estimate is the 20th percentile over windows,
  so the settle period at the start of an excitation, or any slow stretch, sets it and the servo
  transients of fast stretches do not. An encoder's reading is also a whole number of counts: its
  rounding error is count / sqrt(12) RMS (uniform over one count) whenever the joint moves, but a
  still or slow joint's reading changes by a count now and then, so its differences hide most of
  that error. The floor of a quantized signal (`count_size` finds the count in the data: every
  change between readings is a whole multiple of it) is therefore at least count / sqrt(12);
  the rule: floor = max(third-difference estimate, count / sqrt(12)). The floor weights the
  held-out replay's initial-state fit too (`identify`), so its residual is judged on the scale it
  was fitted on;
- **validation** (`identify(..., holdout=0.25)`): the last quarter of the log is not fitted; the
  fitted model replays it (only the initial state of passive joints is fitted there, the physics
  is frozen) and its residual RMS is compared with the noise floor. A model that explains the data
  leaves noise; one that lacks a parameter leaves structure several times the noise. The verdict:
  adequate when held-out RMS <= VALIDATION_NOISE_RATIO x floor on every signal. Measured on the
  cart-pole demo's gap read through the sim robot's sensors (12 s and 20 s logs, 8 sensor seeds
  each, drive velocity noise 1e-3 to 3e-2 rad/s): right fits 0.8-1.3x on the worst signal; a
  parameter frozen 2% off 1.8-39x, 10% off 20-107x, 50% off 55-560x; a wrong local minimum
  (before the fit's coarse stage) 17-2500x;
- **convergence**: a parameter on its search bound, a solver at its iteration limit, or a
  residual that did not improve means the numbers are not a calibration (no params file);
- **what is missing** (`score_candidates`): for each unfitted name of the vocabulary, the
  Lagrange-multiplier (score) test at the optimum: the reduction of the weighted sum of squares a
  Gauss-Newton step in that one parameter would give, with the fitted parameters re-adjusting
  (its Jacobian column projected off the fitted ones), taken greedily: each further suggestion is
  scored on what the ones before it leave. One batched rollout for all candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from calibration.segments import Segment

NOISE_WINDOW_S = 0.5
NOISE_PERCENTILE = 20.0
THIRD_DIFF_GAIN = 20.0  # var(x[k+3] - 3x[k+2] + 3x[k+1] - x[k]) = 20 var(x) for white noise
VALIDATION_NOISE_RATIO = 2.0  # held-out RMS above this many noise floors on any signal: the model misses something
QUANTIZED_MIN_CHANGES = 20  # changes between readings needed before a signal is called quantized
VALIDATION_FIT_RATIO = 2.0  # held-out RMS above this many in-fit RMS: the fit does not generalize
CORRELATION_INADEQUATE = 0.99  # |r| of a pair the log cannot tell apart


def noise_floor(segments: Sequence[Segment]) -> np.ndarray:
    """Per-signal measurement error (positions then velocities), estimated from the data alone:
    max(white-noise estimate from third differences, count / sqrt(12)) (module docstring)."""
    estimates = []
    for seg in segments:
        data = np.hstack([seg.q, seg.qd])
        dt = float(np.median(np.diff(seg.t)))
        n = max(int(round(NOISE_WINDOW_S / dt)), 8)
        for start in range(0, len(data) - n + 1, n):
            d3 = np.diff(data[start:start + n], n=3, axis=0)
            estimates.append(np.mean(d3 ** 2, axis=0) / THIRD_DIFF_GAIN)
    if not estimates:
        return np.full(2 * segments[0].q.shape[1], np.nan)
    white = np.sqrt(np.percentile(np.array(estimates), NOISE_PERCENTILE, axis=0) / _percentile_bias(n))
    counts = np.array([count_size(np.concatenate([np.hstack([s.q, s.qd])[:, k] for s in segments]))
                       for k in range(len(white))])
    return np.maximum(white, counts / np.sqrt(12.0))


def count_size(values: np.ndarray) -> float:
    """The step of a quantized signal (an encoder's count, in its units), or 0 if it is not quantized.

    Readings of an encoder are whole counts, so every change between two readings is a whole multiple
    of one count; the smallest change is one count when the log has slow stretches (an excitation
    starts at rest). A signal qualifies when at least QUANTIZED_MIN_CHANGES changes are whole multiples
    of its smallest change to 1e-3 of a count; anything else (float noise, a differentiated velocity
    resampled in time) is not quantized.
    """
    values = np.asarray(values, dtype=float)
    d = np.abs(np.diff(values[np.isfinite(values)]))
    tiny = 1e-12 * max(float(np.max(np.abs(values))) if values.size else 0.0, 1e-300)
    changes = d[d > tiny]
    if len(changes) < QUANTIZED_MIN_CHANGES:
        return 0.0
    step = float(np.min(changes))
    multiples = changes / step
    if np.max(np.abs(multiples - np.round(multiples))) > 1e-3:
        return 0.0
    return float(np.median(changes / np.round(multiples)))  # the count, averaged over float rounding


def _percentile_bias(n: int) -> float:
    """The NOISE_PERCENTILE-th percentile of the window estimate for unit white noise (about 0.65 for
    25 samples): dividing by it makes the floor unbiased when the quiet windows are pure noise."""
    rng = np.random.default_rng(0)
    d3 = np.diff(rng.standard_normal((4000, n)), n=3, axis=1)
    return float(np.percentile(np.mean(d3 ** 2, axis=1) / THIRD_DIFF_GAIN, NOISE_PERCENTILE))


def rms_per_signal(segments: Sequence[Segment], predictions: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """RMS of measured - simulated per signal (positions then velocities) over all segments."""
    d = np.vstack([np.hstack([s.q - p[0], s.qd - p[1]]) for s, p in zip(segments, predictions, strict=True)])
    return np.sqrt(np.mean(d ** 2, axis=0))


@dataclass
class Verdict:
    """`adequate` and why not; `converged` decides whether a params file may be written at all."""

    adequate: bool
    converged: bool
    reasons: list[str] = field(default_factory=list)
    suggestions: list[dict] = field(default_factory=list)  # [{name, predicted_reduction}], best first


def score_candidates(problem_factory, fitted_names: Sequence[str], candidates: Sequence[str], x: np.ndarray,
                     jacobian: np.ndarray, weights: np.ndarray, step_scale: dict[str, float]) -> list[dict]:
    """Score test of each candidate parameter at the optimum (module docstring); best first.

    `problem_factory(names)` builds the fit problem for `fitted_names + names` at the fitted values
    (nuisance included), `x` the optimum of the fitted problem (fitted, then nuisance), `jacobian`
    its final Jacobian and `weights` the final per-signal weights.
    """
    if not candidates:
        return []
    problem = problem_factory(list(candidates))
    problem.set_weights(weights)
    p = len(fitted_names)
    base = problem.params.as_vector()
    base[:p] = x[:p]
    base[p + len(candidates):] = x[p:]
    cols = [base]
    steps = []
    lo, hi = problem.params.get_bounds()
    for i, n in enumerate(candidates):
        h = 1e-3 * step_scale[n]
        col = base.copy()
        if col[p + i] + h > hi[p + i]:
            h = -h
        col[p + i] += h
        cols.append(col)
        steps.append(h)
    res, _, _ = problem.residual_fn()(np.stack(cols, axis=1), problem.params.copy())
    r = np.concatenate([np.reshape(rr, (-1, len(cols))) for rr in res], axis=0)
    r0 = r[:, 0]
    jac = np.asarray(jacobian, dtype=float)
    q, _ = np.linalg.qr(jac) if jac.size else (np.zeros((len(r0), 0)), None)
    cols_j = {}
    for i, n in enumerate(candidates):
        j = (r[:, 1 + i] - r0) / steps[i]
        cols_j[n] = j - q @ (q.T @ j)
    total = float(r0 @ r0)
    # Greedy forward selection: after the best candidate, the others are scored against what it
    # leaves (its direction projected off them and off the residual), so two names with the same
    # effect (cart mass and slider armature) are not both suggested.
    out = []
    resid = r0.copy()
    remaining = dict(cols_j)
    while remaining and total > 0:
        gains = {}
        for n, j in remaining.items():
            jj = float(j @ j)
            gains[n] = 0.0 if jj <= 1e-30 * total else float((j @ resid) ** 2 / jj)
        best = max(gains, key=gains.get)
        if gains[best] <= 0.0:
            break
        jb = remaining.pop(best)
        unit = jb / np.sqrt(float(jb @ jb))
        resid = resid - unit * float(unit @ resid)
        remaining = {n: j - unit * float(unit @ j) for n, j in remaining.items()}
        out.append({"name": best, "predicted_reduction": gains[best] / total})
    return out
