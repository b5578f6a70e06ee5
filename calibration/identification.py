"""`identify`: one call from a robot log to fitted parameters, their uncertainty, and the files training reads.

    from calibration import identify
    result = identify("cartpole", "run.bag", ["pole.mass", "slider.gain", "action_delay"], "calib/lab1")
    result.fitted["pole.mass"], result.intervals["pole.mass"], result.paths["params"]

Steps: read and check the log (`calibration.load`), keep its last `holdout` fraction for
validation, cut the rest at gaps into segments, fit on the chosen engine (`mujoco_fit`, or
`pybullet_fit` for what MuJoCo cannot express), estimate `obs_noise` from the post-fit residuals
if asked, judge the fit (`calibration.adequacy`: held-out residual vs the noise floor estimated
from the data, parameters on bounds, correlated or unidentifiable parameters; a score test names
what to fit next), then write `result.json` and `report.html`/`report.png` into `out_dir`, and
`params.yaml` / `randomization.yaml` only for a fit that converged and is adequate (or whose
inadequacy the caller accepts). The `robot-rl sysid` command is a thin shell over this.

Nothing saved is destroyed (`calibration.outputs`): an `out_dir` holding an earlier sysid's files is
refused unless `force`; files are written into a temp folder and moved into place when the run
ends; a failed fit never replaces an earlier params.yaml / randomization.yaml (its result.json and
report go to `out_dir/failed_fit/` then).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from calibration import vocabulary
from calibration.adequacy import (
    CORRELATION_INADEQUATE,
    VALIDATION_NOISE_RATIO,
    Verdict,
    noise_floor,
    rms_per_signal,
    score_candidates,
)
from calibration.errors import FitError
from calibration.fit import (
    COARSE_WINDOW_S,
    FitOutcome,
    fit_nuisance,
    initial_state_covariance,
    initial_state_joints,
    solve,
    unit_max,
)
from calibration.log import RobotLog, split_at_gaps
from calibration.outputs import (
    FAILED_FIT_DIR,
    Staging,
    check_sysid_out,
    dr_range,
    holds_calibration,
    write_params_file,
    write_randomization_file,
)
from calibration.result import SysidResult
from calibration.segments import Segment, make_segment, windows
from sim.robot import RobotSpec, load_robot

ENGINES = ("mujoco", "pybullet")
CORRELATION_WARN = 0.95
DEFAULT_HOLDOUT = 0.25
MIN_VALIDATION_S = 2.0
MIN_FIT_S = 3.0
SUGGEST_COUNT = 3
NOISE_FREE = 1e-9  # a noise floor below this (rad, m, /s) is a simulated, noise-free signal
SUGGEST_MIN_REDUCTION = 0.01  # of the weighted sum of squares


def _rms_per_joint(joint_names: Sequence[str], segments: Sequence[Segment],
                   predictions: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict[str, dict[str, float]]:
    dq = np.vstack([seg.q - p[0] for seg, p in zip(segments, predictions, strict=True)])
    dv = np.vstack([seg.qd - p[1] for seg, p in zip(segments, predictions, strict=True)])
    return {j: {"position": float(np.sqrt(np.mean(dq[:, k] ** 2))), "velocity": float(np.sqrt(np.mean(dv[:, k] ** 2)))}
            for k, j in enumerate(joint_names)}


def _dependencies(outcome: FitOutcome) -> tuple[list[tuple[str, str, float]], list[str]]:
    """Strongly correlated pairs of identified parameters, and the parameters the log cannot see at all."""
    cov, names = outcome.covariance, outcome.names
    if cov.size == 0:
        return [], []
    finite = np.isfinite(outcome.half_width)
    pairs = []
    sd = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            if finite[a] and finite[b]:
                c = float(np.clip(cov[a, b] / (sd[a] * sd[b]), -1.0, 1.0))
                if abs(c) >= CORRELATION_WARN:
                    pairs.append((names[a], names[b], c))
    # calculate_intervals marks infinite exactly the parameters with a component along a direction of
    # zero curvature: together they form what the log cannot see.
    return pairs, [n for n, ok in zip(names, finite, strict=True) if not ok]


def _problem(engine: str, robot: RobotSpec, segments: list[Segment], values: dict[str, float], names: list[str],
             initial_joints: Sequence[str] | None = None, fit_initial_state: bool = True):
    if engine == "mujoco":
        from calibration.mujoco_fit import MujocoProblem

        return MujocoProblem(robot, segments, values, names, initial_joints=initial_joints,
                             fit_initial_state=fit_initial_state)
    from calibration.pybullet_fit import PybulletProblem

    return PybulletProblem(robot, segments, values, names, initial_joints=initial_joints,
                           fit_initial_state=fit_initial_state)


def _close(problem) -> None:
    sim = getattr(problem, "sim", None)
    if sim is not None:
        sim.close()


def _fit(engine: str, robot: RobotSpec, segments: list[Segment], values: dict[str, float], names: list[str],
         max_iters: int, progress: Callable[[int], None] | None) -> tuple[FitOutcome, np.ndarray]:
    """The fit, and the final per-signal weights (for the score test).

    With a segment long enough for two coarse windows, stage C (`calibration.fit.coarse_start`) fits
    the names on the log cut into `COARSE_WINDOW_S` windows first: the basin of the right answer.
    Then, for a robot with servoed joints, the intervals take in the noise of the initial states
    estimated for them (`calibration.fit.initial_state_covariance`).
    """
    pieces = [w for seg in segments for w in windows(seg, COARSE_WINDOW_S)]
    coarse = (_problem(engine, robot, pieces, values, names, fit_initial_state=False)
              if len(pieces) > len(segments) and names else None)
    problem = _problem(engine, robot, segments, values, names)
    every_joint = None
    try:
        outcome = solve(problem, max_iters=max_iters, progress=progress, coarse=coarse)
        outcome.notes = list(getattr(problem, "notes", [])) + outcome.notes
        if set(initial_state_joints(robot)) != set(robot.joint_names) and names:
            every_joint = _problem(engine, robot, segments, values, names, initial_joints=list(robot.joint_names))
            extra = initial_state_covariance(outcome, problem, every_joint, noise_floor(segments))
            if extra is not None:
                _widen(outcome, extra)
        return outcome, np.asarray(problem.weights, dtype=float).copy()
    finally:
        for pr in (problem, coarse, every_joint):
            if pr is not None:
                _close(pr)


def _widen(outcome: FitOutcome, extra: np.ndarray) -> None:
    """Add `extra` (the unfitted initial states' share, `calibration.fit.initial_state_covariance`) to
    the fit's covariance and half-widths (same Student-t quantile; infinite ones stay infinite)."""
    base = np.diag(outcome.covariance)
    with np.errstate(divide="ignore", invalid="ignore"):
        quantile = np.where(base > 0, outcome.half_width / np.sqrt(base), np.nan)
    q = float(np.nanmedian(quantile)) if np.any(np.isfinite(quantile)) else 1.96
    outcome.covariance = outcome.covariance + extra
    outcome.half_width = np.where(np.isfinite(outcome.half_width),
                                  np.sqrt(outcome.half_width ** 2 + q ** 2 * np.clip(np.diag(extra), 0.0, None)),
                                  outcome.half_width)
    outcome.notes.append("95% intervals include the uncertainty of the initial states estimated (not fitted) "
                         "for the servoed joints")


def _validate(engine: str, robot: RobotSpec, segments: list[Segment], values: dict[str, float],
              max_iters: int, floor: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Replay held-out segments with the fitted physics frozen; only every joint's initial state is fitted.

    A held-out stretch starts mid-motion, where the 0.1 s estimate of the initial velocity is off by
    more than the noise; even a servoed joint with a large inertia (the iiwa's base) carries that
    error for half a second. Fitting the initial states costs two rollouts per joint and moves no
    physical parameter. Weighted by 1 / `floor` (the noise floor per signal), the scale the verdict
    judges the residual on.

    A joint with Coulomb friction that is about to stick at the stretch's start makes that fit
    multimodal: from the estimate, the cart-pole's held-out start settled 0.5 mm off (8x its floor)
    where a start one noise floor away in velocity found the noise (0.4x). So when the first fit
    leaves more than VALIDATION_NOISE_RATIO x the floor on some signal, it starts again with every
    initial velocity one floor above, and one below, its estimate, and keeps the best of the three.
    """
    problem = _problem(engine, robot, segments, values, [], initial_joints=list(robot.joint_names))
    ok = np.isfinite(floor) & (floor > 0)
    sigma = np.where(ok, floor, np.max(floor[ok], initial=1.0))
    weights = unit_max(np.minimum(1.0 / sigma, 1e6 * np.min(1.0 / sigma)))  # noise-free signals must not swamp
    try:
        x = fit_nuisance(problem, max_iters, weights)
        predictions = problem.predictions(x)
        if np.all(rms_per_signal(segments, predictions) <= VALIDATION_NOISE_RATIO * floor):
            return predictions
        nj = len(robot.joint_names)
        p = len(problem.fit_names)
        # nuisance layout: per segment, per joint, (q, qd) offsets (calibration.fit.add_initial_state_params)
        up = np.zeros((len(segments), nj, 2))
        up[:, :, 1] = sigma[nj:]
        x = fit_nuisance(problem, max_iters, weights, starts=[x[p:], up.ravel(), -up.ravel()])
        return problem.predictions(x)
    finally:
        _close(problem)


def _score(engine: str, robot: RobotSpec, segments: list[Segment], values: dict[str, float], names: list[str],
           outcome: FitOutcome, weights: np.ndarray) -> list[dict]:
    """Score test over every unfitted, fittable name of the vocabulary (`calibration.adequacy`)."""
    candidates = []
    for n in robot.nominal:
        if n in names or n in vocabulary.ESTIMATED_NOT_FITTED:
            continue
        if engine == "pybullet" and vocabulary.kind(n) == "armature":
            continue
        try:
            lo, hi = vocabulary.bounds(n, robot.nominal[n], robot)
        except FitError:
            continue
        if lo <= values[n] <= hi:
            candidates.append(n)
    problems = []

    def factory(extra: list[str]):
        problems.append(_problem(engine, robot, segments, values, list(names) + extra))
        return problems[-1]

    steps = {n: vocabulary.scale(n, robot.nominal[n], robot) for n in candidates}
    try:
        return score_candidates(factory, names, candidates, outcome.x, outcome.jacobian, weights, steps)
    finally:
        for pr in problems:
            _close(pr)


def _split_holdout(data: RobotLog, holdout: float) -> tuple[RobotLog, RobotLog | None, str]:
    """(fit part, held-out part or None, note): the last `holdout` of the log's duration is held out."""
    if holdout <= 0:
        return data, None, "no validation: holdout 0; adequacy judged on the fitted data itself"
    t0, t1 = float(data.t[0]), float(data.t[-1])
    cut = t1 - holdout * (t1 - t0)
    if t1 - cut < MIN_VALIDATION_S or cut - t0 < MIN_FIT_S:
        return data, None, (f"no validation: a {t1 - t0:.1f} s log is too short to hold out {holdout:.0%} "
                            f"(needs >= {MIN_VALIDATION_S:g} s held out and {MIN_FIT_S:g} s to fit); adequacy "
                            "judged on the fitted data itself")
    return data.window(t0, cut), data.window(cut, t1), (
        f"fitted on {cut - t0:.1f} s, validated on the last {t1 - cut:.1f} s (held out of the fit)")


def _per_joint(joint_names: Sequence[str], values: np.ndarray) -> dict[str, dict[str, float]]:
    nj = len(joint_names)
    return {j: {"position": float(values[k]), "velocity": float(values[nj + k])} for k, j in enumerate(joint_names)}


def _signal_names(joint_names: Sequence[str]) -> list[str]:
    return [f"{j} position" for j in joint_names] + [f"{j} velocity" for j in joint_names]


def _base_randomization(robot: RobotSpec, base: str | Path | None) -> dict | None:
    from sim.randomization import available_configs, load_randomization
    from sim.robot import unsuspended

    robot = unsuspended(robot)  # a robot identified on a gantry is randomized as it walks
    if base is None:
        return None
    if base == "default" and "default" not in available_configs(robot):
        return None
    dr = load_randomization(robot, base)
    return None if dr is None else dict(dr.raw)


def identify(robot: RobotSpec | str, log: RobotLog | str | Path, fit_names: Sequence[str] | str,
             out_dir: str | Path, engine: str = "mujoco", params: str | Path | dict | None = None,
             base_randomization: str | Path | None = "default", max_iters: int = 50,
             progress: Callable[[int], None] | None = None, command_topic: str | None = None,
             repair: bool = False, holdout: float = DEFAULT_HOLDOUT, accept_inadequate: bool = True,
             suggest: bool = True, skip: float = 0.0, force: bool = False) -> SysidResult:
    """Fit `fit_names` of the vocabulary to `log` and write the results into `out_dir` (module docstring).

    `params`: start values and the values of everything not fitted (a params file or mapping;
    robot.yaml when None). `base_randomization`: DR config whose other ranges and initial-state /
    push sections the written randomization.yaml keeps (`None` for none). `progress(k)` is called
    after each solver iteration. `holdout`: fraction of the log (its end) kept out of the fit for
    validation. `accept_inadequate`: write params.yaml / randomization.yaml for a fit that converged
    but is not adequate, their header saying so (never for one that did not converge). True by
    default for Python callers, which read `result.adequate` themselves (a noise-free simulated
    log makes any cross-engine model error "not adequate"); the CLI passes False unless
    --accept-inadequate. `suggest`: run the score test over the unfitted vocabulary when the fit is
    not adequate. `skip`: seconds of joint states at the start of the log not fitted (every command
    still replayed): a start-up transient the model need not explain, e.g. a legged robot's servos
    catching their legs when the excitation begins. `force`: replace the files of an earlier sysid in
    `out_dir` (without it such a folder is an OutputError); only a fit that succeeds replaces its
    params.yaml / randomization.yaml.
    """
    from calibration.load import load_log
    from sim.params import resolve_params

    spec = robot if isinstance(robot, RobotSpec) else load_robot(robot)
    if engine not in ENGINES:
        raise FitError(f"unknown engine '{engine}'; expected one of {', '.join(ENGINES)}")
    if not 0.0 <= holdout < 0.9:
        raise FitError(f"holdout {holdout:g} must lie in [0, 0.9): the fraction of the log kept for validation")
    names = [n.strip() for n in fit_names.split(",") if n.strip()] if isinstance(fit_names, str) else list(fit_names)
    values = resolve_params(spec, params)
    start = dict(values)
    names = vocabulary.check_fit_names(spec, names, values)
    check_sysid_out(out_dir, force)  # before minutes of fitting, not after
    data = log if isinstance(log, RobotLog) else load_log(log, spec, command_topic=command_topic, repair=repair)
    if tuple(data.joint_names) != spec.joint_names or tuple(data.actuator_names) != spec.actuator_names:
        raise FitError(f"log {data.source} is for joints {data.joint_names} / actuators {data.actuator_names}, "
                       f"robot '{spec.name}' has {spec.joint_names} / {spec.actuator_names}")
    skip_note = None
    if skip > 0:
        if skip >= 0.5 * data.duration:
            raise FitError(f"skip {skip:g} s would leave less than half of the {data.duration:.1f} s log to fit")
        data = data.window(float(data.t[0]) + skip, float(data.t[-1]))
        skip_note = f"the first {skip:g} s of joint states are not fitted (--skip); their commands are replayed"
    fit_part, val_part, split_note = _split_holdout(data, holdout)
    pieces, gap_notes = split_at_gaps(fit_part)
    segments = [make_segment(p) for p in pieces]
    val_segments: list[Segment] = []
    if val_part is not None:
        val_pieces, _ = split_at_gaps(val_part)
        val_segments = [make_segment(p) for p in val_pieces]
        if not val_segments:
            split_note = "no validation: the held-out part has no segment of >= 1 s; adequacy judged in-sample"
    base = _base_randomization(spec, base_randomization)
    staging = Staging(out_dir)  # an unwritable --out fails now, before the fit
    try:
        result = _identify(spec, data, names, values, start, engine, max_iters, progress, base, suggest,
                           accept_inadequate, segments, val_segments, [*gap_notes, split_note, skip_note], staging)
    except BaseException:
        staging.discard(keep_out=False)
        raise
    staging.discard()
    return result


def _identify(spec: RobotSpec, data: RobotLog, names: list[str], values: dict[str, float], start: dict[str, float],
              engine: str, max_iters: int, progress: Callable[[int], None] | None, base: dict | None,
              suggest: bool, accept_inadequate: bool, segments: list[Segment], val_segments: list[Segment],
              log_notes: list[str | None], staging: Staging) -> SysidResult:
    """The fit, its verdict and its files (written into `staging`, then published): `identify`'s body."""
    from calibration.report import overlay_png, write_report

    dynamic = [n for n in names if n not in vocabulary.ESTIMATED_NOT_FITTED]
    outcome, weights = _fit(engine, spec, segments, values, dynamic, max_iters, progress)

    fitted = {n: float(v) for n, v in zip(outcome.names, outcome.fitted, strict=True)}
    half = {n: float(h) for n, h in zip(outcome.names, outcome.half_width, strict=True)}
    notes = list(data.notes) + [n for n in log_notes if n] + list(outcome.notes)
    if "obs_noise" in names:
        rms = np.asarray(outcome.signal_rms)
        n_samples = sum(len(s.t) for s in segments)
        fitted["obs_noise"] = float(np.median(rms))
        half["obs_noise"] = float(1.96 * fitted["obs_noise"] / np.sqrt(2.0 * n_samples))
        notes.append("obs_noise is estimated, not fitted: the median over joint positions and velocities of the "
                     "post-fit residual RMS (model error, if any, counts as noise)")
    fitted = {n: fitted[n] for n in names}
    half = {n: half[n] for n in names}
    values.update(fitted)

    verdict = Verdict(adequate=True, converged=True)
    intervals, identified, ranges = {}, {}, {}
    for n in names:
        intervals[n] = (fitted[n] - half[n], fitted[n] + half[n])
        lo, hi, ok = dr_range(n, fitted[n], half[n])
        ranges[n], identified[n] = (lo, hi), ok
        if not ok:
            notes.append(f"{n} is not identified by this log (95% half-width {half[n]:.3g} vs value {fitted[n]:.3g});"
                         " excite it more, fix a parameter it trades off against, or keep it out of --fit")
            verdict.reasons.append(f"{n} is not identified (95% half-width {half[n]:.3g} vs value {fitted[n]:.3g})")
        if n in vocabulary.ESTIMATED_NOT_FITTED:
            continue
        b_lo, b_hi = vocabulary.bounds(n, spec.nominal[n], spec)
        if min(fitted[n] - b_lo, b_hi - fitted[n]) <= 1e-6 * max(b_hi - b_lo, 1e-12):
            notes.append(f"{n} = {fitted[n]:.4g} ends on its search bound [{b_lo:.4g}, {b_hi:.4g}]; the model "
                         "may lack an effect the data shows, or robot.yaml's nominal value is far off")
            verdict.reasons.append(f"{n} = {fitted[n]:.4g} stopped on its search bound [{b_lo:.4g}, {b_hi:.4g}]")
            verdict.converged = False
    if outcome.hit_iteration_limit:
        verdict.converged = False
        verdict.reasons.append(f"the solver stopped at its iteration limit ({max_iters}; raise --max-iters)")
    if not outcome.cost_fitted <= outcome.cost_start * (1.0 + 1e-9):
        verdict.converged = False
        verdict.reasons.append(f"the residual did not improve (sum of squares {outcome.cost_start:.4g} -> "
                               f"{outcome.cost_fitted:.4g})")
    if "action_delay" in names:
        notes.append(f"action_delay = {fitted['action_delay'] * 1e3:.2f} ms; the engines realize it rounded to "
                     f"{spec.physics_dt * 1e3:g} ms physics substeps")
    correlations, combination = _dependencies(outcome)
    for a, b, c in correlations:
        notes.append(f"{a} and {b} are correlated ({c:+.3f}): this log barely tells them apart; fix one to a "
                     "known value for a sharper fit")
        if abs(c) >= CORRELATION_INADEQUATE:
            verdict.reasons.append(f"{a} and {b} are correlated ({c:+.3f}): the log cannot tell them apart")
    if len(combination) > 1:
        notes.append(f"this log determines only a combination of {', '.join(combination)}: they change the motion "
                     "the same way (e.g. two inertias on one joint); fix all but one to known values")
    elif combination:
        notes.append(f"{combination[0]} has no effect on the motion in this log")

    # Validation: held-out residual against the noise floor the data itself shows.
    floor = noise_floor(segments + val_segments)
    fit_rms = rms_per_signal(segments, outcome.predictions_after)
    if val_segments:
        val_rms = rms_per_signal(val_segments, _validate(engine, spec, val_segments, values, max_iters, floor))
    else:
        val_rms = fit_rms
    ratio = val_rms / np.maximum(floor, 1e-12)
    if np.any(floor < NOISE_FREE):
        notes.append("the log looks noise-free on some signals (a simulation?): any model error, even an engine's "
                     "numerics, exceeds its noise floor there")
    signals = _signal_names(spec.joint_names)
    worst = int(np.argmax(ratio))
    what = "held-out" if val_segments else "in-fit"
    notes.append(f"{what} residual RMS / noise floor: worst {ratio[worst]:.2f} ({signals[worst]}), median "
                 f"{float(np.median(ratio)):.2f}; adequate below {VALIDATION_NOISE_RATIO:g}")
    bad = [k for k in np.argsort(-ratio) if ratio[k] > VALIDATION_NOISE_RATIO]
    if bad:
        listed = ", ".join(f"{signals[k]} {ratio[k]:.1f}x" for k in bad[:4]) + (", ..." if len(bad) > 4 else "")
        verdict.reasons.append(f"{what} residual exceeds {VALIDATION_NOISE_RATIO:g}x the noise floor estimated from "
                               f"the data on {len(bad)} of {len(signals)} signals ({listed}): the model misses "
                               "something the robot does")
    verdict.adequate = not verdict.reasons
    if not verdict.adequate and suggest and verdict.converged and outcome.x is not None:
        verdict.suggestions = [e for e in _score(engine, spec, segments, values, dynamic, outcome, weights)
                               if e["predicted_reduction"] >= SUGGEST_MIN_REDUCTION][:SUGGEST_COUNT]
        if verdict.suggestions:
            notes.append("score test over the unfitted vocabulary, largest predicted residual reduction first: "
                         + ", ".join(f"{e['name']} {100 * e['predicted_reduction']:.0f}%" for e in verdict.suggestions))

    result = SysidResult(
        robot=spec.name, engine=outcome.engine, fit_names=names, nominal={n: spec.nominal[n] for n in names},
        start={n: float(start[n]) for n in names}, fitted=fitted, half_widths=half,
        intervals=intervals, identified=identified, dr_ranges=ranges, values=dict(values),
        joint_names=list(spec.joint_names),
        residuals_before=_rms_per_joint(spec.joint_names, segments, outcome.predictions_before),
        residuals_after=_rms_per_joint(spec.joint_names, segments, outcome.predictions_after),
        correlations=correlations, log_source=data.source, log_duration=data.duration, n_segments=len(segments),
        iterations=outcome.iterations, wall_s=outcome.wall_s, notes=notes, adequate=verdict.adequate,
        converged=verdict.converged, reasons=verdict.reasons, suggestions=verdict.suggestions,
        noise_floor=_per_joint(spec.joint_names, floor),
        residuals_validation=_per_joint(spec.joint_names, val_rms) if val_segments else {},
        validation_s=float(sum(seg.duration for seg in val_segments)),
    )
    header = (f"robot-rl sysid: robot {spec.name}, log {data.source}, engine {outcome.engine}\n"
              f"fitted: {', '.join(names)}")
    if not verdict.adequate:
        header += "\nNOT ADEQUATE (accepted by the caller): " + "; ".join(verdict.reasons)
    out, tmp = staging.out, staging.dir
    calibrated = verdict.converged and (verdict.adequate or accept_inadequate)
    # A failed fit never replaces an earlier calibration, nor the result.json and report describing it.
    dest = out if calibrated or not holds_calibration(out) else out / FAILED_FIT_DIR
    if calibrated:
        result.paths["params"] = dest / "params.yaml"
        result.paths["randomization"] = dest / "randomization.yaml"
        write_params_file(tmp / "params.yaml", values, spec.nominal, fitted,
                          header + "\nabsolute values; use with: robot-rl train --params")
        write_randomization_file(tmp / "randomization.yaml", ranges,
                                 header + "\nuniform ranges centred on the fit, widths from its 95% intervals", base)
    else:
        why = "did not converge" if not verdict.converged else "is not adequate"
        notes.append(f"no params.yaml / randomization.yaml written: the fit {why}; the numbers are in result.json")
        if dest != out:
            notes.append(f"the earlier calibration in {out} is kept as it was (params.yaml, randomization.yaml, "
                         f"result.json, report); this fit's result.json and report are in {dest}")
    result.paths["result"] = dest / "result.json"
    result.paths["report"] = dest / "report.html"
    result.paths["figure"] = dest / "report.png"
    png = overlay_png(spec.joint_names, segments, outcome.predictions_before, outcome.predictions_after,
                      f"{spec.name}: measured vs {outcome.engine} before/after fitting {', '.join(names)}")
    write_report(result, segments, png, tmp)
    (tmp / "result.json").write_text(json.dumps(result.to_json(), indent=2))
    staging.publish(dest)
    return result
