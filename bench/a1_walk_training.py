"""The A1Walk-v0 training curve of a run, as JSON (and a PNG): env steps, wall seconds, return, success.

Reads what `robot-rl train` writes (metrics.csv every iteration, summary.json at the end) and the
periodic deterministic evaluations it logged (eval/* columns, when present), so the curve of the
shipped policy's run is recorded without re-training. Training episodes run the stochastic policy
under the run's domain randomization; evaluations run the deterministic one (see the run's config).

Usage:
  python bench/a1_walk_training.py runs/a1walk-main [--json bench/results/a1_walk_training.json]
      [--png bench/results/a1_walk_training.png] [--every 20]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path


def _float(row: dict[str, str], key: str) -> float | None:
    value = row.get(key, "")
    try:
        x = float(value)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def curve(run_dir: Path, every: int = 1) -> dict:
    """Rows (step, seconds, return, success, eval return/success where logged) of `run_dir`'s metrics."""
    rows = list(csv.DictReader(open(run_dir / "metrics.csv", newline="")))
    if not rows:
        raise SystemExit(f"{run_dir}/metrics.csv has no rows yet")
    points, evals = [], []
    for k, row in enumerate(rows):
        step, seconds = _float(row, "step"), _float(row, "time/elapsed_s")
        if step is None:
            continue
        if k % every == 0 or k == len(rows) - 1:
            points.append({"step": int(step), "seconds": seconds, "return": _float(row, "episode/return"),
                           "success": _float(row, "episode/success_rate")})
        if _float(row, "eval/mean_return") is not None:
            evals.append({"step": int(step), "seconds": seconds, "return": _float(row, "eval/mean_return"),
                          "success": _float(row, "eval/success_rate")})
    first_success = {}
    for threshold in (0.5, 0.8, 0.9):
        hit = next((p for p in evals if (p["success"] or 0.0) >= threshold), None)
        first_success[f"eval_success_{threshold}"] = None if hit is None else {"step": hit["step"],
                                                                               "seconds": hit["seconds"]}
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else None
    last = points[-1]
    return {
        "run": str(run_dir),
        "task": "A1Walk-v0",
        "steps": last["step"],
        "wall_seconds": last["seconds"],
        "steps_per_second": (last["step"] / last["seconds"]) if last["seconds"] else None,
        "first_reached": first_success,
        "training": points,
        "evaluations": evals,
        "summary": summary,
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_r, ax_s) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, label in ((ax_r, "return", "episode return"), (ax_s, "success", "success rate")):
        tr = [(p["seconds"] / 60, p[key]) for p in result["training"] if p[key] is not None]
        ev = [(p["seconds"] / 60, p[key]) for p in result["evaluations"] if p[key] is not None]
        if tr:
            ax.plot(*zip(*tr, strict=True), label="training episodes (stochastic, DR)", lw=1)
        if ev:
            ax.plot(*zip(*ev, strict=True), "o-", label="evaluation (deterministic, DR)")
        ax.set_xlabel("wall-clock minutes (2 shared CPU cores)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    ax_s.set_ylim(-0.02, 1.02)
    ax_s.axhline(0.9, color="grey", ls="--", lw=0.8)
    ax_r.legend(fontsize=8)
    fig.suptitle(f"PPO on A1Walk-v0 (MuJoCo, DR): {result['steps']:,} env steps in "
                 f"{result['wall_seconds'] / 60:.0f} min")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--png", type=Path, default=None, help="plot the curve here")
    parser.add_argument("--every", type=int, default=10, help="keep every N-th training row (default 10)")
    args = parser.parse_args()
    result = curve(args.run_dir, max(1, args.every))
    text = json.dumps(result, indent=1)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    if args.png is not None:
        plot(result, args.png)
    print(json.dumps({k: v for k, v in result.items() if k not in ("training", "evaluations")}, indent=1))


if __name__ == "__main__":
    main()
