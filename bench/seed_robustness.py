"""Seed robustness: one algorithm's CLI defaults (plus overrides) on many seeds, best and last checkpoint.

Why: a learning result from one seed says little; issue 21 asks each algorithm to reach its target on at
least 9 of 10 seeds. Each seed is a full run of the training runner (``robot_rl.train.train``, exactly
what ``robot-rl train`` runs, same evaluation interval default), one after the other with 1 torch thread.
Per seed it reports:

* ``final_eval``: the runner's final evaluation of the last state (``checkpoints/last.pt``);
* ``best_periodic``/``best_step``: the best periodic evaluation, the one that chose ``best.pt``;
* ``best_eval``: ``best.pt`` evaluated on the same held-out episodes as ``final_eval`` (no selection bias:
  the episodes that chose it are not the ones that score it);
* ``curve``: every periodic evaluation, ``[step, mean_return]``; CPU and wall-clock seconds.

Prints one JSON line per seed and a summary line (with ``--threshold``: how many seeds reach it, best
and last), and appends all of them to ``bench/results/seed_robustness.jsonl``.

    .venv/bin/python bench/seed_robustness.py --algo dqn --env CartPole-v1 --steps 80000 --seeds 0-9 \\
        --threshold 475
    .venv/bin/python bench/seed_robustness.py --algo td3 --env Pendulum-v1 --steps 10000 --seeds 0-9 \\
        --threshold -300 --set gamma=0.98
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "seed_robustness.jsonl"


def parse_seeds(text: str) -> list[int]:
    """``0-9`` or ``0,3,7`` or ``0-4,10``."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-", 1)
            seeds.extend(range(int(lo), int(hi) + 1))
        elif part:
            seeds.append(int(part))
    if not seeds:
        raise SystemExit(f"--seeds {text!r}: no seeds; give e.g. 0-9 or 0,1,2")
    return seeds


def eval_curve(run_dir: Path) -> list[list[float]]:
    """[step, eval/mean_return] of each periodic evaluation in the run's metrics.csv."""
    with open(run_dir / "metrics.csv", newline="", encoding="utf-8") as f:
        return [
            [int(float(row["step"])), float(row["eval/mean_return"])]
            for row in csv.DictReader(f)
            if row.get("eval/mean_return")
        ]


def run_seed(args: argparse.Namespace, overrides: dict[str, Any], seed: int, out_root: Path) -> dict[str, Any]:
    import torch

    from robot_rl.envs import make_env, resolve_env_id
    from robot_rl.train import BEST, RunConfig, load_policy, train
    from robot_rl.training.evaluation import default_eval_every, evaluate

    torch.set_num_threads(1)
    env_id = resolve_env_id(args.env)
    config = RunConfig(
        env_id=env_id,
        algo=args.algo,
        steps=args.steps,
        seed=seed,
        engine=None,
        eval_every=args.eval_every if args.eval_every is not None else default_eval_every(args.steps),
        eval_episodes=args.eval_episodes,
        checkpoint_every=0,
        algo_config=overrides,
        command=f"bench/seed_robustness.py --algo {args.algo} --env {args.env} --seed {seed}",
    )
    if env_id.startswith("robot_rl/"):
        config.engine, config.randomize = "mujoco", "default"
    run_dir = out_root / f"{args.algo}-s{seed}"
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = train(config, run_dir, progress=False)
    cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
    final = result.final_eval or {}
    record: dict[str, Any] = {
        "kind": "seed",
        "algo": args.algo,
        "env": env_id,
        "steps": args.steps,
        "seed": seed,
        "overrides": overrides,
        "status": result.status,
        "final_eval": final.get("mean_return"),
        "cpu_s": round(cpu_s, 1),
        "wall_s": round(wall_s, 1),
    }
    curve = eval_curve(run_dir)
    if (run_dir / "checkpoints" / BEST).is_file():
        actor, meta = load_policy(run_dir, BEST)
        kwargs = config.task_kwargs()

        @torch.inference_mode()
        def policy(obs):
            return actor(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0))[0].numpy()

        # The runner's final evaluation episodes (seed + 1_000_000): best and last scored on the same ones.
        best = evaluate(policy, lambda: make_env(env_id, **kwargs), args.eval_episodes, seed + 1_000_000)
        best_periodic = max(curve, key=lambda point: point[1]) if curve else [meta["global_step"], None]
        record.update(
            {"best_eval": best["mean_return"], "best_step": meta["global_step"], "best_periodic": best_periodic[1]}
        )
    record["curve"] = curve
    return record


def summarize(records: list[dict[str, Any]], args: argparse.Namespace, overrides: dict[str, Any]) -> dict[str, Any]:
    finals = [r["final_eval"] for r in records]
    bests = [r.get("best_eval", r["final_eval"]) for r in records]
    summary: dict[str, Any] = {
        "kind": "summary",
        "algo": args.algo,
        "env": records[0]["env"],
        "steps": args.steps,
        "seeds": [r["seed"] for r in records],
        "overrides": overrides,
        "final_eval": {"median": statistics.median(finals), "worst": min(finals)},
        "best_eval": {"median": statistics.median(bests), "worst": min(bests)},
        "cpu_s_median": statistics.median(r["cpu_s"] for r in records),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "label": args.label,
    }
    if args.threshold is not None:
        summary["threshold"] = args.threshold
        summary["final_reached"] = sum(v >= args.threshold for v in finals)
        summary["best_reached"] = sum(v >= args.threshold for v in bests)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algo", required=True)
    parser.add_argument("--env", required=True, help="Gymnasium env id or one of our tasks")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,1,2 (default 0-9)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="algorithm setting")
    parser.add_argument("--eval-every", type=int, default=None, help="default: the CLI's (default_eval_every)")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--threshold", type=float, default=None, help="count the seeds whose eval reaches it")
    parser.add_argument("--label", default=None, help="free text stored with the results (what was tried)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON-lines file the lines are appended to")
    parser.add_argument("--keep-runs", type=Path, default=None, help="keep the run directories here")
    args = parser.parse_args(argv)

    from robot_rl.commands.train import set_values

    overrides = set_values(args.set)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    records = []
    with tempfile.TemporaryDirectory(prefix="seed_robustness-") as tmp:
        out_root = args.keep_runs or Path(tmp)
        for seed in parse_seeds(args.seeds):
            record = run_seed(args, overrides, seed, out_root)
            record["label"] = args.label
            records.append(record)
            line = json.dumps(record)
            print(line, flush=True)
            with open(args.results, "a", encoding="utf-8") as f:
                f.write(line + "\n")
            if record["status"] != "finished":  # SIGINT/SIGTERM: the runner saved and stopped; so do we
                return 1
    line = json.dumps(summarize(records, args, overrides))
    print(line, flush=True)
    with open(args.results, "a", encoding="utf-8") as f:
        f.write(line + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
