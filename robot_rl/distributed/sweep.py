"""Sweeps: seeds x a grid of settings, each trial an ordinary run folder trained as Ray work.

A trial is ``robot_rl.train.train`` on one ``RunConfig`` in ``DIR/<config>-s<seed>/``: the same
folder ``robot-rl train`` writes, so every trial can be resumed, evaluated and exported like any
run. Ray schedules the trials as tasks that declare their CPUs (``cpus_per_trial``), on the
embedded local Ray or on a cluster; Ray is the scheduler, this module only lists, launches and
summarizes.

Failure and interruption are per trial: a trial that raises is recorded as ``failed`` with its
error and the others carry on; Ctrl-C cancels the running trials the way Ctrl-C stops ``robot-rl
train`` (each finishes its iteration and saves ``last.pt``) and records them as ``interrupted``.
Running the same sweep again skips finished trials and resumes the others from their checkpoints.

Outputs: ``DIR/sweep.json`` (rewritten after every trial), a console table (mean +- std across
seeds per configuration) and ``DIR/sweep.png`` (learning curves grouped by configuration).
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robot_rl.train import LAST, RunConfig, RunConfigError, algo_config
from sim.validation import load_yaml_text

SWEEP_FILE = "sweep.json"
PLOT_FILE = "sweep.png"
# Grid keys that are fields of the run (files and names), not algorithm settings.
RUN_KEYS = ("params", "randomize", "engine")
# How long Ctrl-C waits for interrupted trials to save their checkpoints.
CANCEL_GRACE_S = 120.0


@dataclass
class Trial:
    """One configuration at one seed, and what became of it."""

    label: str  # the configuration, e.g. "learning_rate=0.001 num_envs=32" ("base" without a grid)
    grid: dict[str, Any]
    seed: int
    run_dir: Path
    config: RunConfig
    status: str = "pending"  # pending | finished | failed | interrupted
    mean_return: float | None = None
    success_rate: float | None = None
    wall_s: float | None = None
    global_step: int | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """Its entry in sweep.json."""
        return {
            "config": self.label,
            "settings": self.grid,
            "seed": self.seed,
            "run_dir": str(self.run_dir),
            "mean_return": self.mean_return,
            "success_rate": self.success_rate,
            "wall_s": self.wall_s,
            "status": self.status,
            "global_step": self.global_step,
            "error": self.error,
        }


# Seeds of one sweep: every seed is a training run, so a range is counted before it is built
# (`--seeds 0-100000000` built a 100M-element list, then hung planning 100M trials).
MAX_SWEEP_SEEDS = 1000
MAX_TRIALS = 10_000


def parse_seeds(text: str) -> list[int]:
    """``0,1,2`` or a range ``0-4``: distinct seeds in [0, MAX_SEED], at most MAX_SWEEP_SEEDS of them."""
    from robot_rl.training.setting_ranges import MAX_SEED

    expected = (f"distinct integers from 0 to {MAX_SEED} like 0,1,2 or 0-4, at most {MAX_SWEEP_SEEDS} seeds")
    items = [v.strip() for v in text.split(",") if v.strip()]
    try:
        if re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", text):
            lo, hi = (int(v) for v in text.split("-"))
            count = hi - lo + 1
            seeds = list(range(lo, hi + 1)) if 0 < count <= MAX_SWEEP_SEEDS and hi <= MAX_SEED else None
        elif len(items) <= MAX_SWEEP_SEEDS:
            seeds = [int(v) for v in items if len(v) <= 20]  # a 5000-digit "seed" is not parsed
            seeds = seeds if len(seeds) == len(items) else None
        else:
            seeds = None
    except ValueError:
        seeds = []
    if seeds is None:
        raise RunConfigError(f"--seeds '{text[:40]}{'...' if len(text) > 40 else ''}': too many seeds or too large; "
                             f"expected {expected}")
    if not seeds or len(set(seeds)) != len(seeds) or not all(0 <= s <= MAX_SEED for s in seeds):
        raise RunConfigError(f"--seeds expects {expected}, got '{text[:60]}'")
    return seeds


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``--grid KEY=V1,V2`` items to {key: values}; values are YAML (``hidden=[64,64],[128,128]``)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise RunConfigError(f"--grid expects KEY=V1,V2,..., got '{item}'")
        key, text = (part.strip() for part in item.split("=", 1))
        values = load_yaml_text(f"[{text}]", f"--grid {item}")
        if not key or not values or key in grid:
            raise RunConfigError(f"--grid {item}: give each key once, with at least one value")
        grid[key] = values
    return grid


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", label.replace(" ", "__")).strip("_") or "base"


def _plain_value(value: Any) -> Any:
    return [_plain_value(v) for v in value] if isinstance(value, list | tuple) else value


def _format_value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ",".join(_format_value(v) for v in value) + "]"
    return "none" if value is None else str(value)


def plan_trials(base: RunConfig, grid: dict[str, list[Any]], seeds: list[int], out: Path) -> list[Trial]:
    """Every (grid combination, seed) as a Trial with its RunConfig; settings are checked here.

    ``base.algo_config`` holds the ``--set`` overrides every trial shares; grid keys are algorithm
    settings or one of ``RUN_KEYS``. A bad key or value fails now, before anything starts.
    """
    keys = list(grid)
    count = math.prod(len(grid[k]) for k in keys) * len(seeds)
    if count > MAX_TRIALS:
        raise RunConfigError(f"--grid x --seeds make {count:,} trials, more than {MAX_TRIALS:,}; sweep fewer values "
                             "or seeds (each trial is a training run)")
    trials = []
    for values in itertools.product(*(grid[k] for k in keys)) if keys else [()]:
        combo = dict(zip(keys, values, strict=True))
        run_fields = {k: v for k, v in combo.items() if k in RUN_KEYS}
        for key in ("randomize", "params"):  # 'none': no randomization / nominal physics
            if key in run_fields and str(run_fields[key]).lower() in ("none", "null"):
                run_fields[key] = None
        settings = {**base.algo_config, **{k: v for k, v in combo.items() if k not in RUN_KEYS}}
        try:
            typed = algo_config(base.algo, {**base.algo_settings(), **settings})
        except RunConfigError as exc:
            raise RunConfigError(f"--grid/--set: {exc}") from exc
        # Typed values in sweep.json and the runs' configs ("1e-3" from YAML 1.1 becomes 0.001).
        settings = {k: _plain_value(getattr(typed, k)) for k in settings}
        combo = {k: (v if k in RUN_KEYS else settings[k]) for k, v in combo.items()}
        label = " ".join(f"{k}={_format_value(v)}" for k, v in combo.items()) or "base"
        for seed in seeds:
            run_dir = out / f"{_slug(label)}-s{seed}"
            config = dataclasses.replace(base, seed=seed, algo_config=settings, **run_fields)
            config.command = _train_command(config, run_dir)
            trials.append(Trial(label, combo, seed, run_dir, config))
    return trials


def _train_command(config: RunConfig, run_dir: Path) -> str:
    """The one-run command that trains this trial alone (what its config.yaml and model card show)."""
    short = config.env_id.split("/", 1)[1] if config.env_id.startswith("robot_rl/") else None
    args = ["robot-rl", "train", *(["--task", short] if short else ["--env-id", config.env_id])]
    args += ["--algo", config.algo, "--steps", str(config.steps), "--seed", str(config.seed)]
    if short:
        args += ["--engine", str(config.engine), "--randomize", str(config.randomize or "none")]
        if config.robot:
            args += ["--robot", str(config.robot)]
        if config.params:
            args += ["--params", str(config.params)]
    if config.preset:
        args += ["--preset", config.preset]
    for key, value in config.algo_config.items():
        args += ["--set", f"{key}={_format_value(value)}"]
    args += ["--eval-every", str(config.eval_every), "--eval-episodes", str(config.eval_episodes)]
    return shlex.join([*args, "--out", str(run_dir)])


def _summary(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / "summary.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, json.JSONDecodeError):
        return None


def _fill_from_summary(trial: Trial, summary: dict[str, Any]) -> None:
    final = summary.get("final_eval") or {}
    trial.status = summary.get("status", "finished")
    trial.mean_return = final.get("mean_return")
    trial.success_rate = final.get("success_rate")
    trial.wall_s = summary.get("elapsed_s")
    trial.global_step = summary.get("global_step")


def already_finished(trial: Trial) -> bool:
    """A finished run of at least the asked steps is not trained again (a re-run resumes a sweep)."""
    summary = _summary(trial.run_dir)
    if summary is None or summary.get("status") != "finished" or int(summary["global_step"]) < trial.config.steps:
        return False
    _fill_from_summary(trial, summary)
    return True


def run_trial(config: RunConfig, run_dir: str) -> dict[str, Any]:
    """Body of one trial's Ray task: train (or resume) the run folder; its summary.json as a dict."""
    from robot_rl.train import train

    path = Path(run_dir)
    resume = (path / "checkpoints" / LAST).is_file()
    try:
        result = train(config, path, resume=resume, progress=False)
    except Exception as exc:  # reported as this trial's failure; the error travels as text (any type)
        lines = str(exc).strip().splitlines()
        return {"status": "failed", "error": f"{type(exc).__name__}: {lines[0] if lines else ''}"}
    return {**(_summary(path) or {}), "status": result.status, "resumed": resume}


def run_sweep(trials: list[Trial], out: Path, cpus_per_trial: float, progress: bool = True) -> list[Trial]:
    """Run the unfinished trials on the connected Ray; write sweep.json after each one.

    Returns the trials with their outcome. Raises KeyboardInterrupt after a Ctrl-C, once the
    running trials have saved their checkpoints (or ``CANCEL_GRACE_S`` passed) and sweep.json says
    which ones were interrupted.
    """
    import ray

    from robot_rl.distributed.cluster import require_cpus

    out.mkdir(parents=True, exist_ok=True)
    todo = [t for t in trials if not already_finished(t)]
    if todo:
        require_cpus(cpus_per_trial, f"a trial (--cpus-per-trial {cpus_per_trial:g})")
    task = ray.remote(num_cpus=cpus_per_trial, max_retries=0)(run_trial)
    running = {task.remote(t.config, str(t.run_dir)): t for t in todo}
    started = {id(t): time.perf_counter() for t in todo}
    write_sweep_json(out, trials)
    bar = _bar(len(trials), len(trials) - len(todo), progress)
    try:
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            trial = running.pop(ready[0])
            _collect(trial, ready[0], time.perf_counter() - started[id(trial)])
            write_sweep_json(out, trials)
            if bar is not None:
                bar.set_postfix_str(f"{trial.run_dir.name}: {trial.status}", refresh=False)
                bar.update(1)
    except KeyboardInterrupt:
        _interrupt(running, started)
        write_sweep_json(out, trials)
        raise
    finally:
        if bar is not None:
            bar.close()
    return trials


def _collect(trial: Trial, ref: Any, wall_s: float) -> None:
    import ray

    try:
        outcome = ray.get(ref)
    except ray.exceptions.TaskCancelledError:
        trial.status, trial.wall_s = "interrupted", wall_s
        return
    except ray.exceptions.RayError as exc:  # the trial's process died (out of memory, a node lost)
        text = str(exc).strip().splitlines()
        trial.status, trial.wall_s = "failed", wall_s
        trial.error = f"{type(exc).__name__}: {text[0] if text else ''}"
        return
    if outcome["status"] == "failed":
        trial.status, trial.wall_s, trial.error = "failed", wall_s, outcome["error"]
        return
    _fill_from_summary(trial, outcome)


def _interrupt(running: dict[Any, Trial], started: dict[int, float]) -> None:
    """Ctrl-C: ask each running trial to stop as Ctrl-C stops a run, and wait for their checkpoints."""
    import ray

    for ref in running:
        ray.cancel(ref, force=False)  # a KeyboardInterrupt in the trial: it saves last.pt and returns
    deadline = time.perf_counter() + CANCEL_GRACE_S
    pending = list(running)
    try:
        while pending and time.perf_counter() < deadline:
            ready, pending = ray.wait(pending, num_returns=1, timeout=max(0.0, deadline - time.perf_counter()))
            for ref in ready:
                _collect(running[ref], ref, time.perf_counter() - started[id(running[ref])])
    except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
        pass
    for ref in pending:
        ray.cancel(ref, force=True)
    for trial in running.values():
        if trial.status in ("pending", "finished") and (_summary(trial.run_dir) or {}).get("status") != "finished":
            trial.status = "interrupted"


def _bar(total: int, done: int, progress: bool):
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="trial", desc="sweep", dynamic_ncols=True)


def write_sweep_json(out: Path, trials: list[Trial]) -> Path:
    """``DIR/sweep.json``: the list of trials, written atomically."""
    path = out / SWEEP_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps([t.record() for t in trials], indent=2) + "\n")
    tmp.replace(path)
    return path


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def summary_table(trials: list[Trial]) -> str:
    """Mean +- std across seeds of each configuration's final evaluation (finished seeds only)."""
    rows = [("config", "seeds done", "return", "success", "wall s")]
    for label in dict.fromkeys(t.label for t in trials):
        group = [t for t in trials if t.label == label]
        done = [t for t in group if t.status == "finished" and t.mean_return is not None]
        cells = [label, f"{len(done)}/{len(group)}"]
        for values in (
            [t.mean_return for t in done],
            [t.success_rate for t in done if t.success_rate is not None],
            [t.wall_s for t in done if t.wall_s is not None],
        ):
            if values:
                mean, std = _mean_std([float(v) for v in values])
                cells.append(f"{mean:.2f} +- {std:.2f}")
            else:
                cells.append("-")
        rows.append(tuple(cells))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    problems = [t for t in trials if t.status != "finished"]
    lines += [f"{t.run_dir.name}: {t.status}" + (f" ({t.error})" if t.error else "") for t in problems]
    return "\n".join(lines)


def _curve(run_dir: Path) -> tuple[list[float], list[float], str] | None:
    """(steps, values, what) from a run's metrics.csv: evaluation return, else training return."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for key in ("eval/mean_return", "episode/return"):
        points = [(float(r["step"]), float(r[key])) for r in rows if r.get(key) not in (None, "")]
        if points:
            return [p[0] for p in points], [p[1] for p in points], key
    return None


def plot_sweep(trials: list[Trial], out: Path) -> Path | None:
    """``DIR/sweep.png``: each seed's curve, one colour per configuration. None if no curve yet."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn, what = False, "return"
    for i, label in enumerate(dict.fromkeys(t.label for t in trials)):
        labelled = False
        for trial in (t for t in trials if t.label == label):
            curve = _curve(trial.run_dir)
            if curve is None:
                continue
            steps, values, what = curve
            ax.plot(steps, values, color=colours[i % len(colours)], alpha=0.8, label=None if labelled else label)
            drawn = labelled = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("env steps")
    ax.set_ylabel(what)
    ax.set_title(f"{trials[0].config.algo} on {trials[0].config.env_id}: one line per seed")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out / PLOT_FILE
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
