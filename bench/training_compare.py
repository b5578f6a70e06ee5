"""Training runs side by side: the evaluation curves of labelled `robot-rl train` runs, as JSON and a PNG.

Why: a training change (symmetry, a reward term, a preset) is kept only if it pays, and "pays" means
the same task reaches the same evaluation success in fewer env steps or less wall-clock time. This
reads what each run wrote (metrics.csv with its periodic deterministic evaluations, summary.json,
config.yaml) and reports, per run: the settings that differ from the first run's, the evaluations,
the first step and second at which evaluation success reached 0.5 / 0.8 / 0.9, and the final
evaluation. Runs made side by side (started together, sharing the cores) compare fairly in env
steps; runs made one after the other on a free machine compare in wall-clock time.

Usage:
  python bench/training_compare.py base=runs/a base+symmetry=runs/b [...]
      [--json bench/results/NAME.json] [--png bench/results/NAME.png] [--note "how the runs were made"]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from a1_walk_training import curve  # noqa: E402  (bench/ is scripts, not a package)

THRESHOLDS = (0.5, 0.8, 0.9)


def _settings(run_dir: Path) -> dict:
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise SystemExit(f"{run_dir}: no config.yaml (not a `robot-rl train` run folder)")
    config = yaml.safe_load(path.read_text()) or {}
    return {**(config.get("algo_config") or {}), "seed": config.get("seed"), "env_id": config.get("env_id"),
            "time_budget_s": config.get("time_budget_s"), "steps": config.get("steps")}


def compare(runs: list[tuple[str, Path]]) -> dict:
    """Each labelled run's evaluations and what differs in its settings from the first run's."""
    if not runs:
        raise SystemExit("give at least one LABEL=RUN_DIR")
    reference = _settings(runs[0][1])
    out = []
    for label, run_dir in runs:
        if not (run_dir / "metrics.csv").is_file():
            raise SystemExit(f"{label}={run_dir}: no metrics.csv (not a `robot-rl train` run folder, or not started)")
        result = curve(run_dir)
        settings = _settings(run_dir)
        differs = {k: v for k, v in settings.items() if reference.get(k) != v}
        summary = result["summary"] or {}
        final = summary.get("eval") or summary.get("final_eval") or {}
        out.append({
            "label": label,
            "run": str(run_dir),
            "differs_from_first": differs,
            "steps": result["steps"],
            "wall_seconds": result["wall_seconds"],
            "steps_per_second": result["steps_per_second"],
            "first_reached": result["first_reached"],
            "evaluations": result["evaluations"],
            "final_evaluation": {k: final.get(k) for k in ("success_rate", "mean_return") if k in final} or None,
        })
    return {"bench": "training_compare", "runs": out}


def plot(result: dict, path: Path, note: str | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_steps, ax_time) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for run in result["runs"]:
        ev = [p for p in run["evaluations"] if p["success"] is not None]
        if not ev:
            continue
        ax_steps.plot([p["step"] / 1e6 for p in ev], [p["success"] for p in ev], "o-", label=run["label"])
        ax_time.plot([p["seconds"] / 60 for p in ev], [p["success"] for p in ev], "o-", label=run["label"])
    ax_steps.set_xlabel("env steps (millions)")
    ax_time.set_xlabel("training wall-clock minutes")
    ax_steps.set_ylabel("evaluation success (deterministic, DR)")
    for ax in (ax_steps, ax_time):
        ax.set_ylim(-0.02, 1.02)
        ax.axhline(0.9, color="grey", ls="--", lw=0.8)
        ax.grid(alpha=0.3)
    ax_steps.legend(fontsize=8)
    fig.suptitle(note or "training runs side by side")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_run(text: str) -> tuple[str, Path]:
    label, sep, folder = text.partition("=")
    if not sep or not label or not folder:
        raise argparse.ArgumentTypeError(f"'{text}': give LABEL=RUN_DIR, e.g. base=runs/a1_base")
    return label, Path(folder)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=parse_run, metavar="LABEL=RUN_DIR")
    parser.add_argument("--json", type=Path, default=None, help="write the comparison here")
    parser.add_argument("--png", type=Path, default=None, help="plot evaluation success against steps and time")
    parser.add_argument("--note", default=None, help="how the runs were made (machine, load, side by side or not)")
    args = parser.parse_args(argv)
    result = compare(args.runs)
    if args.note:
        result["note"] = args.note
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.png is not None:
        plot(result, args.png, args.note)
    for run in result["runs"]:
        evals = ", ".join(f"{p['step'] / 1e6:.1f}M {p['success']:.2f}" for p in run["evaluations"])
        print(f"{run['label']}: {run['steps']:,} steps in {run['wall_seconds']:.0f} s; evaluations {evals}; "
              f"final {run['final_evaluation']}; differs {run['differs_from_first']}")
    return result


if __name__ == "__main__":
    main()
