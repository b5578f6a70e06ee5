"""`identify`: one call from a robot log to fitted parameters, their uncertainty, and the files training reads.

    from calibration import identify
    result = identify("cartpole", "run.bag", ["pole.mass", "slider.gain", "action_delay"], "calib/lab1")
    result.fitted["pole.mass"], result.intervals["pole.mass"], result.paths["params"]

Steps: read and check the log (`calibration.load`), cut it at gaps into segments, fit on the chosen
engine (`mujoco_fit`, or `pybullet_fit` for what MuJoCo cannot express), estimate `obs_noise` from
the post-fit residuals if asked, then write `params.yaml`, `randomization.yaml`, `result.json` and
`report.html`/`report.png` into `out_dir`. The `robot-rl sysid` command is a thin shell over this.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from calibration import vocabulary
from calibration.errors import FitError
from calibration.fit import FitOutcome
from calibration.log import RobotLog, split_at_gaps
from calibration.outputs import dr_range, write_params_file, write_randomization_file
from calibration.segments import Segment, make_segment
from sim.robot import RobotSpec, load_robot

ENGINES = ("mujoco", "pybullet")
CORRELATION_WARN = 0.95


@dataclass
class SysidResult:
    """Fitted values with 95% intervals, residuals, notes, and the paths of the files written."""

    robot: str
    engine: str
    fit_names: list[str]
    nominal: dict[str, float]  # robot.yaml value of each fitted name
    start: dict[str, float]  # where the fit started (robot.yaml, or --params)
    fitted: dict[str, float]
    half_widths: dict[str, float]  # 95% Student-t half-widths (inf: not identifiable from this log)
    intervals: dict[str, tuple[float, float]]
    identified: dict[str, bool]
    dr_ranges: dict[str, tuple[float, float]]
    values: dict[str, float]  # the whole vocabulary after the fit
    joint_names: list[str]
    residuals_before: dict[str, dict[str, float]]  # joint -> {position, velocity} RMS
    residuals_after: dict[str, dict[str, float]]
    correlations: list[tuple[str, str, float]]
    log_source: str
    log_duration: float
    n_segments: int
    iterations: int
    wall_s: float
    notes: list[str] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)

    def to_json(self) -> dict:
        """Plain JSON (infinite half-widths become null)."""
        def clean(x):
            if isinstance(x, float) and not np.isfinite(x):
                return None
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, (list, tuple)):
                return [clean(v) for v in x]
            if isinstance(x, Path):
                return str(x)
            return x

        data = asdict(self)
        data["paths"] = {k: str(v) for k, v in self.paths.items()}
        return clean(data)


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


def _fit(engine: str, robot: RobotSpec, segments: list[Segment], values: dict[str, float], names: list[str],
         max_iters: int, progress: Callable[[int], None] | None) -> FitOutcome:
    if engine == "mujoco":
        from calibration.mujoco_fit import fit_mujoco

        return fit_mujoco(robot, segments, values, names, max_iters=max_iters, progress=progress)
    from calibration.pybullet_fit import fit_pybullet

    return fit_pybullet(robot, segments, values, names, max_iters=max_iters, progress=progress)


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
             repair: bool = False) -> SysidResult:
    """Fit `fit_names` of the vocabulary to `log` and write the results into `out_dir` (module docstring).

    `params`: start values and the values of everything not fitted (a params file or mapping;
    robot.yaml when None). `base_randomization`: DR config whose other ranges and initial-state /
    push sections the written randomization.yaml keeps (`None` for none). `progress(k)` is called
    after each solver iteration.
    """
    from calibration.load import load_log
    from calibration.report import overlay_png, write_report
    from sim.params import resolve_params

    spec = robot if isinstance(robot, RobotSpec) else load_robot(robot)
    if engine not in ENGINES:
        raise FitError(f"unknown engine '{engine}'; expected one of {', '.join(ENGINES)}")
    names = [n.strip() for n in fit_names.split(",") if n.strip()] if isinstance(fit_names, str) else list(fit_names)
    values = resolve_params(spec, params)
    start = dict(values)
    names = vocabulary.check_fit_names(spec, names, values)
    data = log if isinstance(log, RobotLog) else load_log(log, spec, command_topic=command_topic, repair=repair)
    if tuple(data.joint_names) != spec.joint_names or tuple(data.actuator_names) != spec.actuator_names:
        raise FitError(f"log {data.source} is for joints {data.joint_names} / actuators {data.actuator_names}, "
                       f"robot '{spec.name}' has {spec.joint_names} / {spec.actuator_names}")
    pieces, gap_notes = split_at_gaps(data)
    segments = [make_segment(p) for p in pieces]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = _base_randomization(spec, base_randomization)

    dynamic = [n for n in names if n not in vocabulary.ESTIMATED_NOT_FITTED]
    outcome = _fit(engine, spec, segments, values, dynamic, max_iters, progress)

    fitted = {n: float(v) for n, v in zip(outcome.names, outcome.fitted, strict=True)}
    half = {n: float(h) for n, h in zip(outcome.names, outcome.half_width, strict=True)}
    notes = list(data.notes) + gap_notes + list(outcome.notes)
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

    intervals, identified, ranges = {}, {}, {}
    for n in names:
        intervals[n] = (fitted[n] - half[n], fitted[n] + half[n])
        lo, hi, ok = dr_range(n, fitted[n], half[n])
        ranges[n], identified[n] = (lo, hi), ok
        if not ok:
            notes.append(f"{n} is not identified by this log (95% half-width {half[n]:.3g} vs value {fitted[n]:.3g});"
                         " excite it more, fix a parameter it trades off against, or keep it out of --fit")
        if n in vocabulary.ESTIMATED_NOT_FITTED:
            continue
        b_lo, b_hi = vocabulary.bounds(n, spec.nominal[n])
        if min(fitted[n] - b_lo, b_hi - fitted[n]) <= 1e-6 * max(b_hi - b_lo, 1e-12):
            notes.append(f"{n} = {fitted[n]:.4g} ends on its search bound [{b_lo:.4g}, {b_hi:.4g}]; the model "
                         "may lack an effect the data shows, or robot.yaml's nominal value is far off")
    if "action_delay" in names:
        notes.append(f"action_delay = {fitted['action_delay'] * 1e3:.2f} ms; the engines realize it rounded to "
                     f"{spec.physics_dt * 1e3:g} ms physics substeps")
    correlations, combination = _dependencies(outcome)
    for a, b, c in correlations:
        notes.append(f"{a} and {b} are correlated ({c:+.3f}): this log barely tells them apart; fix one to a "
                     "known value for a sharper fit")
    if len(combination) > 1:
        notes.append(f"this log determines only a combination of {', '.join(combination)}: they change the motion "
                     "the same way (e.g. two inertias on one joint); fix all but one to known values")
    elif combination:
        notes.append(f"{combination[0]} has no effect on the motion in this log")

    result = SysidResult(
        robot=spec.name, engine=outcome.engine, fit_names=names, nominal={n: spec.nominal[n] for n in names},
        start={n: float(start[n]) for n in names}, fitted=fitted, half_widths=half,
        intervals=intervals, identified=identified, dr_ranges=ranges, values=dict(values),
        joint_names=list(spec.joint_names),
        residuals_before=_rms_per_joint(spec.joint_names, segments, outcome.predictions_before),
        residuals_after=_rms_per_joint(spec.joint_names, segments, outcome.predictions_after),
        correlations=correlations, log_source=data.source, log_duration=data.duration, n_segments=len(segments),
        iterations=outcome.iterations, wall_s=outcome.wall_s, notes=notes,
    )
    header = (f"robot-rl sysid: robot {spec.name}, log {data.source}, engine {outcome.engine}\n"
              f"fitted: {', '.join(names)}")
    result.paths["params"] = write_params_file(out / "params.yaml", values, spec.nominal, fitted,
                                               header + "\nabsolute values; use with: robot-rl train --params")
    result.paths["randomization"] = write_randomization_file(
        out / "randomization.yaml", ranges,
        header + "\nuniform ranges centred on the fit, widths from its 95% intervals", base)
    result.paths["result"] = out / "result.json"
    result.paths["report"] = out / "report.html"
    result.paths["figure"] = out / "report.png"
    png = overlay_png(spec.joint_names, segments, outcome.predictions_before, outcome.predictions_after,
                      f"{spec.name}: measured vs {outcome.engine} before/after fitting {', '.join(names)}")
    write_report(result, segments, png, out)
    (out / "result.json").write_text(json.dumps(result.to_json(), indent=2))
    return result
