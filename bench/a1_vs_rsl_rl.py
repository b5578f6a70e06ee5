"""Our PPO against rsl_rl's OnPolicyRunner on the A1 walk, by wall-clock: success at 5, 10 and 20 minutes (issue 23).

Both sides train A1Walk-v0 on the same vector env (sim.vector.RobotVectorEnv: MuJoCo, default DR, the batched
physics step on both cores), each in its own subprocess, one after the other, 1 torch thread each (as `robot-rl
train`), inside the same `cpu_training_settings()` `robot-rl train` holds around its loop:

  ours     `robot-rl train --task A1Walk-v0`: the task's own preset (robot_rl/training/presets.py 'legged'),
           built by robot_rl.train.build_algo exactly as the CLI builds it; schedules follow the time budget as
           they do under `--time-budget` (the longest checkpoint is the budget)
  rsl_rl   rsl-rl-lib's OnPolicyRunner (through bench/rsl_rl_adapter.py, time-outs bootstrapped) with legged_gym's
           PPO settings for the A1 and ANYmal (LeggedRobotCfgPPO): actor and critic 512-256-128 ELU, initial
           noise std 1.0, 24 steps per env, 5 epochs x 4 minibatches, lr 1e-3 with the adaptive schedule
           (desired_kl 0.01), clip 0.2, entropy 0.01, value loss 1.0 (clipped), gamma 0.99, lambda 0.95, max
           grad norm 1.0; no observation normalization (legged_gym has none; --rsl-obs-normalization turns
           rsl_rl's empirical normalizer on); the critic sees the actor's observation (legged_gym's A1 has no
           privileged observations; ours keeps its preset's asymmetric critic); as many envs as ours (192).
           Not reproduced: legged_gym's random initial episode lengths (our env has no such hook).

The clock of a side starts at its first iteration (env and networks built) and stops only for the policy
snapshots: at the first iteration end at or after each checkpoint time (--minutes, default 5 10 20) the
deterministic policy is copied (rsl_rl: its actor with its normalizer, if enabled). After training every
checkpoint is evaluated the same way, robot_rl's deterministic evaluation (robot_rl.training.evaluation.evaluate):
--episodes episodes (20) of the single env under the same default DR over the task's whole command range, seeded
like `robot-rl train`'s final evaluation (seed + 1,000,000), success as the task defines it (no fall, mean planar
tracking error <= its bound after the first second).

Output: one JSON line per (library, seed, checkpoint) appended to --out (bench/results/a1_vs_rsl_rl.jsonl):
  lib, seed, minutes (the checkpoint), train_seconds (the clock at the snapshot), env_steps, iterations,
  env_steps_per_s, eval_success_rate, eval_mean_return, eval_std_return, eval_mean_length, eval_episodes,
  eval_seed, num_envs, settings, loadavg_start/_end (of the training), quick;
a PNG next to it (success vs wall-clock minutes, both libraries, every seed of this invocation, or of the whole
file with --replot, and their mean) and a summary on stdout: mean success per library and checkpoint, and the
issue's target at 10 min (ours >= 2x rsl_rl's success, or ours at half the time >= rsl_rl's at 10 min).

Usage:
  python bench/a1_vs_rsl_rl.py --seeds 1 2 3             the comparison: 3 seeds x 2 libraries x (20 min + eval)
  python bench/a1_vs_rsl_rl.py --minutes 5 10 --seeds 1   shorter
  python bench/a1_vs_rsl_rl.py --seeds 2 && python bench/a1_vs_rsl_rl.py --replot
                                                         one seed at a time, then the PNG of every line in the file
  python bench/a1_vs_rsl_rl.py --quick                   smoke run: checkpoints at 0.5 and 1 min, 5 episodes,
                                                         one seed; written to a temp folder, not bench/results
Run it on an otherwise idle machine: the clock is wall-clock, and both sides need both cores.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import redirect_stdout
from pathlib import Path
from types import SimpleNamespace
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TASK = "A1Walk-v0"
LIBS = ("ours", "rsl_rl")
DEFAULT_OUT = BENCH / "results" / "a1_vs_rsl_rl.jsonl"
DEFAULT_MINUTES = (5.0, 10.0, 20.0)
DEFAULT_SEEDS = (1, 2, 3)  # not seed 0, the one the legged preset was measured on
EVAL_EPISODES = 20
EVAL_SEED_OFFSET = 1_000_000  # `robot-rl train`'s final evaluation: seed + 1,000,000
QUICK_MINUTES = (0.5, 1.0)
QUICK_EPISODES = 5
TARGET_MINUTES = 10.0  # the comparison point

# legged_gym's LeggedRobotCfgPPO (legged_gym/envs/base/legged_robot_config.py), which its A1 and ANYmal configs use
# unchanged; keys as bench/rsl_rl_adapter.runner_config takes them, the algorithm's as rsl_rl's PPO does.
RSL_LEGGED: dict[str, Any] = {
    "hidden": [512, 256, 128],
    "activation": "elu",
    "init_std": 1.0,
    "num_steps": 24,
    "obs_normalization": False,
    "algorithm": {
        "learning_rate": 1e-3,
        "schedule": "adaptive",
        "desired_kl": 0.01,
        "num_learning_epochs": 5,
        "num_mini_batches": 4,
        "clip_param": 0.2,
        "entropy_coef": 0.01,
        "value_loss_coef": 1.0,
        "use_clipped_value_loss": True,
        "gamma": 0.99,
        "lam": 0.95,
        "max_grad_norm": 1.0,
    },
}


# ---------------------------------------------------------------------------------------------
# one side's training and evaluation (runs in a child process)
# ---------------------------------------------------------------------------------------------


def run_config(seed: int, overrides: dict[str, Any] | None = None):
    """The RunConfig `robot-rl train --task A1Walk-v0 --seed S` builds (the task's own preset, DR 'default',
    MuJoCo), without a step limit; ``overrides`` go over the preset as ``--set`` would (tests shrink it)."""
    from robot_rl.envs import resolve_env_id
    from robot_rl.train import NO_STEP_LIMIT, RunConfig
    from robot_rl.training.presets import PRESETS, resolve_preset

    env_id = resolve_env_id(TASK)
    preset, _own = resolve_preset(None, env_id, None)
    algo = PRESETS[preset].algo if preset is not None else "ppo"
    return RunConfig(env_id=env_id, algo=algo, steps=NO_STEP_LIMIT, seed=seed, engine="mujoco", randomize="default",
                     preset=preset, algo_config=dict(overrides or {}))


def train_by_clock(iterate: Callable[[], Any], env_steps: Callable[[], int], snapshot: Callable[[], Any],
                   marks_s: list[float], on_clock: Callable[[float], None] | None = None) -> list[dict[str, Any]]:
    """Call ``iterate()`` until the last of ``marks_s`` (seconds of training); at the first iteration end at or
    after each mark take ``snapshot()`` (the policy). The snapshots' own time is not training time.
    ``on_clock(elapsed)`` runs before every iteration (our PPO's time-budget schedules)."""
    from robot_rl.training.cpu import cpu_training_settings

    pending = sorted(float(m) for m in marks_s)
    checkpoints: list[dict[str, Any]] = []
    iterations, paused = 0, 0.0
    with cpu_training_settings():
        start = time.perf_counter()
        while pending:
            if on_clock is not None:
                on_clock(time.perf_counter() - start - paused)
            iterate()
            iterations += 1
            now = time.perf_counter()
            elapsed = now - start - paused
            if elapsed < pending[0]:
                continue
            policy = snapshot()
            while pending and elapsed >= pending[0]:
                checkpoints.append({"mark_s": pending.pop(0), "train_seconds": elapsed, "env_steps": int(env_steps()),
                                    "iterations": iterations, "policy": policy})
            paused += time.perf_counter() - now
    return checkpoints


def _train_ours(spec: dict[str, Any], config) -> tuple[list[dict[str, Any]], Callable, dict[str, Any]]:
    import torch

    from robot_rl.train import Trainer, algo_config, build_algo

    algo = build_algo(config, env_seed=config.seed)
    budget = max(spec["marks_s"])
    # The schedules of `robot-rl train --time-budget` (Trainer._schedule_by_time: step-based schedules follow
    # the elapsed fraction of the budget); it reads only .algo and .config.steps.
    runner = SimpleNamespace(algo=algo, config=config)
    try:
        checkpoints = train_by_clock(algo.iterate, lambda: algo.global_step, algo.export_actor, spec["marks_s"],
                                     on_clock=None if budget <= 0 else
                                     lambda elapsed: Trainer._schedule_by_time(runner, elapsed, budget))
    finally:
        algo.close()

    def policy_fn(actor: torch.nn.Module) -> Callable:
        @torch.inference_mode()
        def act(obs):
            return actor(torch.as_tensor(obs[None]))[0].numpy()

        return act

    cfg = algo_config(config.algo, config.algo_settings())
    settings = {"preset": config.preset, "num_envs": cfg.num_envs, **config.algo_settings()}
    return checkpoints, policy_fn, settings


def _train_rsl_rl(spec: dict[str, Any], config) -> tuple[list[dict[str, Any]], Callable, dict[str, Any]]:
    from robot_rl.envs import make_vec_env
    from robot_rl.train import algo_config

    if str(BENCH) not in sys.path:
        sys.path.append(str(BENCH))
    from rsl_rl_adapter import RslVecEnv, deterministic_policy, make_runner

    num_envs = algo_config(config.algo, config.algo_settings()).num_envs  # as many envs as ours
    settings = {**copy.deepcopy(RSL_LEGGED), **copy.deepcopy(spec.get("rsl_overrides", {}))}
    if spec.get("rsl_obs_normalization"):
        settings["obs_normalization"] = True
    venv = make_vec_env(config.env_id, num_envs, seed=config.seed, **config.task_kwargs())
    env = RslVecEnv(venv, config.seed)
    try:
        with redirect_stdout(sys.stderr):  # rsl_rl prints its networks; stdout is the bench's JSON
            runner = make_runner(env, settings)
        actor = runner.alg.get_policy()  # its observation normalizer (when enabled) is part of its state
        # The actor's state, not the module: a deepcopy trips over the distribution's cached non-leaf tensors.
        checkpoints = train_by_clock(lambda: runner.learn(1), lambda: env.steps,
                                     lambda: {k: v.detach().clone() for k, v in actor.state_dict().items()},
                                     spec["marks_s"])
    finally:
        env.close()

    def policy_fn(state: dict) -> Callable:  # the checkpoints are evaluated one after the other
        actor.load_state_dict(state)
        return deterministic_policy(actor)

    return checkpoints, policy_fn, {"num_envs": num_envs, **settings}


def trial(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Train one library on one seed until the last checkpoint, then evaluate every checkpoint: the result lines.

    ``spec``: lib ("ours" | "rsl_rl"), seed, marks_s (checkpoint times, seconds), minutes (their names), episodes;
    optional overrides (our PPO settings over the preset; the env count of both), rsl_overrides,
    rsl_obs_normalization, torch_threads (1), quick.
    """
    import torch

    from robot_rl.envs import make_env
    from robot_rl.training.evaluation import evaluate

    lib, seed = spec["lib"], int(spec["seed"])
    torch.set_num_threads(int(spec.get("torch_threads", 1)))
    torch.manual_seed(seed)  # rsl_rl's networks and sampling; ours seeds its own generator, the envs theirs
    config = run_config(seed, spec.get("overrides"))
    load_start = os.getloadavg()
    train = {"ours": _train_ours, "rsl_rl": _train_rsl_rl}[lib]
    checkpoints, policy_fn, settings = train(spec, config)
    load_end = os.getloadavg()
    names = dict(zip(spec["marks_s"], spec["minutes"], strict=True))
    lines = []
    for ck in checkpoints:
        eval_seed = seed + EVAL_SEED_OFFSET
        res = evaluate(policy_fn(ck["policy"]), lambda: make_env(config.env_id, **config.task_kwargs()),
                       spec["episodes"], seed=eval_seed)
        lines.append({
            "bench": "a1_vs_rsl_rl", "task": TASK, "lib": lib, "seed": seed, "minutes": names[ck["mark_s"]],
            "train_seconds": round(ck["train_seconds"], 2), "env_steps": ck["env_steps"],
            "iterations": ck["iterations"], "env_steps_per_s": round(ck["env_steps"] / ck["train_seconds"], 1),
            "eval_success_rate": res["success_rate"], "eval_mean_return": round(res["mean_return"], 3),
            "eval_std_return": round(res["std_return"], 3), "eval_mean_length": res["mean_length"],
            "eval_episodes": res["episodes"], "eval_seed": eval_seed, "num_envs": settings["num_envs"],
            "settings": settings, "torch_threads": int(spec.get("torch_threads", 1)),
            "loadavg_start": [round(x, 2) for x in load_start], "loadavg_end": [round(x, 2) for x in load_end],
            "quick": bool(spec.get("quick", False)), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        })
    return lines


# ---------------------------------------------------------------------------------------------
# orchestration (parent process)
# ---------------------------------------------------------------------------------------------


def _in_child(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """One side in a fresh spawned interpreter (its own threads, memory and torch state); the parent waits."""
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(trial, spec).result()


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def summarize(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean success per library and checkpoint over the seeds, and the issue's target at 10 minutes."""
    table: dict[str, dict[str, float | None]] = {}
    for lib in LIBS:
        marks = sorted({ln["minutes"] for ln in lines if ln["lib"] == lib})
        table[lib] = {f"{m:g}": _mean([ln["eval_success_rate"] for ln in lines if ln["lib"] == lib
                                       and ln["minutes"] == m and ln["eval_success_rate"] is not None])
                      for m in marks}
    out: dict[str, Any] = {"mean_success": table, "seeds": sorted({ln["seed"] for ln in lines})}
    ten, half = f"{TARGET_MINUTES:g}", f"{TARGET_MINUTES / 2:g}"
    ours, rsl = table.get("ours", {}), table.get("rsl_rl", {})
    if ours.get(ten) is not None and rsl.get(ten) is not None:
        twice = ours[ten] >= 2 * rsl[ten] and ours[ten] > 0
        same_in_half = ours.get(half) is not None and ours[half] >= rsl[ten]
        out["target_10min"] = {
            "ours": ours[ten], "rsl_rl": rsl[ten],
            "ratio": round(ours[ten] / rsl[ten], 2) if rsl[ten] else None,
            "ours_at_half_time": ours.get(half),
            "met": bool(twice or same_in_half),
            "rule": "ours >= 2x rsl_rl's success at 10 min, or ours at 5 min >= rsl_rl at 10 min",
        }
    return out


def plot(lines: list[dict[str, Any]], path: Path, title_note: str = "") -> None:
    """Success vs wall-clock minutes: every seed thin, the mean over seeds bold, one colour per library."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = {"ours": "tab:blue", "rsl_rl": "tab:orange"}
    styles = {"ours": ("-", "o"), "rsl_rl": ("--", "s")}  # distinguishable where the curves coincide
    names = {"ours": "ours (preset legged)", "rsl_rl": "rsl_rl OnPolicyRunner (legged_gym PPO)"}
    for lib in LIBS:
        mine = [ln for ln in lines if ln["lib"] == lib and ln["eval_success_rate"] is not None]
        for seed in sorted({ln["seed"] for ln in mine}):
            pts = sorted((ln["train_seconds"] / 60, ln["eval_success_rate"]) for ln in mine if ln["seed"] == seed)
            ax.plot(*zip(*pts, strict=True), color=colours[lib], lw=0.8, alpha=0.35, marker=".")
        marks = sorted({ln["minutes"] for ln in mine})
        if marks:
            mean = [statistics.fmean(ln["eval_success_rate"] for ln in mine if ln["minutes"] == m) for m in marks]
            ax.plot(marks, mean, color=colours[lib], lw=2.2, ls=styles[lib][0], marker=styles[lib][1],
                    label=f"{names[lib]}, mean at each checkpoint")
    ax.axhline(0.9, color="grey", ls="--", lw=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(left=0)
    ax.set_xlabel("wall-clock minutes of training (2 CPU cores)")
    ax.set_ylabel("evaluation success (deterministic, DR)")
    seeds = sorted({ln["seed"] for ln in lines})
    which = f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"
    ax.set_title(f"A1Walk-v0: ours vs rsl_rl, {which}{title_note}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=None,
                        help=f"checkpoint times in wall-clock minutes; the last is the budget (default "
                        f"{' '.join(f'{m:g}' for m in DEFAULT_MINUTES)}; --quick {' '.join(map(str, QUICK_MINUTES))})")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help=f"training seeds (default {' '.join(map(str, DEFAULT_SEEDS))}; --quick: the first)")
    parser.add_argument("--episodes", type=int, default=None,
                        help=f"evaluation episodes per checkpoint (default {EVAL_EPISODES}; --quick {QUICK_EPISODES})")
    parser.add_argument("--libs", nargs="+", choices=LIBS, default=list(LIBS), help="which sides to run (both)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: checkpoints at 0.5 and 1 min, 5 episodes, one seed; written to a temp folder")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"JSON lines appended here (default {DEFAULT_OUT.relative_to(REPO)}; --quick: a temp "
                        "folder); the PNG goes next to it")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads of each side (default 1)")
    parser.add_argument("--rsl-obs-normalization", action="store_true",
                        help="rsl_rl with its empirical observation normalizer (legged_gym's settings have none)")
    parser.add_argument("--replot", action="store_true",
                        help="train nothing: the PNG and the summary of every line in --out (runs of several "
                        "invocations, e.g. one seed at a time); without it they show this invocation's lines")
    args = parser.parse_args(argv)
    minutes = args.minutes or list(QUICK_MINUTES if args.quick else DEFAULT_MINUTES)
    if any(m <= 0 for m in minutes):
        parser.error(f"--minutes must be > 0, got {minutes}")
    seeds = args.seeds or list(DEFAULT_SEEDS[:1] if args.quick else DEFAULT_SEEDS)
    episodes = args.episodes or (QUICK_EPISODES if args.quick else EVAL_EPISODES)
    if episodes < 1:
        parser.error(f"--episodes must be >= 1, got {episodes}")
    out = args.out or (Path(tempfile.gettempdir()) / "a1_vs_rsl_rl_quick.jsonl" if args.quick else DEFAULT_OUT)
    if args.replot:
        if not out.is_file():
            print(f"a1_vs_rsl_rl: --replot: {out} does not exist; run the bench first (or name the file with --out)",
                  file=sys.stderr)
            return 2
        return _report([json.loads(t) for t in out.read_text().splitlines() if t.strip()], out, args.quick)
    if "rsl_rl" in args.libs:
        try:
            import rsl_rl  # noqa: F401
        except ImportError:
            print("a1_vs_rsl_rl: rsl_rl is not installed; it is in the bench extra: .venv/bin/pip install -e "
                  "'.[bench]' (make setup installs it)", file=sys.stderr)
            return 2
    minutes = sorted(set(minutes))
    lines: list[dict[str, Any]] = []
    for seed in seeds:
        for lib in args.libs:
            spec = {"lib": lib, "seed": seed, "minutes": minutes, "marks_s": [m * 60.0 for m in minutes],
                    "episodes": episodes, "torch_threads": args.torch_threads, "quick": args.quick,
                    "rsl_obs_normalization": args.rsl_obs_normalization}
            print(f"[a1_vs_rsl_rl] {lib} seed {seed}: training {max(minutes):g} min, checkpoints at "
                  f"{', '.join(f'{m:g}' for m in minutes)} min ...", file=sys.stderr, flush=True)
            got = _in_child(spec)
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("a") as f:  # line by line: a long run that stops keeps what it measured
                for line in got:
                    f.write(json.dumps(line) + "\n")
                    print(json.dumps({k: v for k, v in line.items() if k != "settings"}), flush=True)
            lines += got
    return _report(lines, out, args.quick)


def _report(lines: list[dict[str, Any]], out: Path, quick: bool) -> int:
    """The PNG next to ``out`` and the summary on stdout, of ``lines``."""
    png = out.with_suffix(".png")
    plot(lines, png, " (smoke run)" if quick or any(ln.get("quick") for ln in lines) else "")
    print(json.dumps({"summary": summarize(lines), "jsonl": str(out), "png": str(png), "quick": quick}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
