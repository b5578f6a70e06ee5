"""Evaluate a trained run's deterministic policy for N episodes, optionally under other physics.

Task, engine, randomization and params default to the run's config.yaml; override them to test
a policy out of its training distribution, e.g. a MuJoCo-trained policy in PyBullet (sim-to-sim)
or under identified params:

  robot-rl eval runs/swingup --episodes 20 --json
  robot-rl eval runs/swingup --engine pybullet --randomize none --json
  robot-rl eval runs/swingup --params calib/params.yaml --checkpoint best.pt

Episode i is reset with seed S+i, so two evaluations with the same seed see the same episodes.
Success is the env's info["success"] at the end of each episode (when the env reports one).
--json prints one JSON object: mean_return, std_return, min_return, max_return, mean_length,
success_rate, episodes, returns, plus what was evaluated.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "eval"
HELP = "evaluate a trained run's policy for N episodes (optionally other engine/params/randomization)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="run directory written by `robot-rl train`")
    parser.add_argument("--task", default=None, help="task to evaluate on (default: the run's)")
    parser.add_argument("--env-id", default=None, help="Gymnasium env id to evaluate on (default: the run's)")
    parser.add_argument("--engine", choices=["mujoco", "pybullet"], default=None, help="default: the run's")
    parser.add_argument("--randomize", default=None, metavar="CFG", help="config name, YAML path or 'none'")
    parser.add_argument("--params", default=None, metavar="FILE", help="physics params file")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default="last.pt", help="file in checkpoints/ (last.pt, best.pt, ...)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a sentence")


def run(args: argparse.Namespace) -> int:
    import json

    import torch

    from robot_rl.envs import is_our_task, make_env, resolve_env_id, task_kwargs_for
    from robot_rl.train import load_policy, read_run_config
    from robot_rl.training.evaluation import evaluate

    torch.set_num_threads(1)
    config = read_run_config(args.run_dir)
    actor, meta = load_policy(args.run_dir, args.checkpoint)
    env_id = resolve_env_id(args.task or args.env_id or config.env_id)
    engine = args.engine or config.engine or "mujoco"
    if args.randomize is not None:
        randomize = None if args.randomize == "none" else args.randomize
    else:
        randomize = config.randomize
    params = args.params if args.params is not None else config.params
    kwargs = task_kwargs_for(env_id, engine, randomize, params)

    @torch.inference_mode()
    def policy_fn(obs):
        return actor(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0))[0].numpy()

    result = evaluate(policy_fn, lambda: make_env(env_id, **kwargs), args.episodes, args.seed)
    result.update(
        {
            "run_dir": str(args.run_dir),
            "checkpoint": meta["checkpoint"],
            "global_step": meta["global_step"],
            "env_id": env_id,
            "engine": engine if is_our_task(env_id) else None,
            "randomize": randomize if is_our_task(env_id) else None,
            "params": params if is_our_task(env_id) else None,
            "seed": args.seed,
        }
    )
    if args.json:
        print(json.dumps(result))
    else:
        success = result["success_rate"]
        print(
            f"{env_id} ({result['engine'] or 'gymnasium'}): return {result['mean_return']:.2f} +- "
            f"{result['std_return']:.2f} over {result['episodes']} episodes"
            + (f", success {success:.2f}" if success is not None else "")
        )
    return 0
