"""Evaluate a policy for N episodes, optionally under other physics: a run directory or a policy folder.

RUN_DIR is either a training run (`robot-rl train --out`; the torch actor of a checkpoint) or an
exported policy folder (policy.onnx + policy.json, e.g. policies/cartpole_swingup; the ONNX file
through onnxruntime, exactly what a robot would run, after its SHA-256 and shapes are checked).
Task, engine, randomization and params default to the run's config.yaml or the card's training
section; override them to test a policy out of its training distribution, e.g. a MuJoCo-trained
policy in PyBullet (sim-to-sim) or under identified params:

  robot-rl eval runs/swingup --episodes 20 --json
  robot-rl eval runs/swingup --engine pybullet --randomize none --json
  robot-rl eval runs/swingup --params calib/params.yaml --checkpoint best.pt
  robot-rl eval policies/cartpole_swingup --engine pybullet --params gap.yaml --episodes 20 --json

Episode i is reset with seed S+i, so two evaluations with the same seed see the same episodes.
Success is the env's info["success"] at the end of each episode (when the env reports one).
--json prints one JSON object: mean_return, std_return, min_return, max_return, mean_length,
success_rate, episodes, returns, plus what was evaluated.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from robot_rl.commands._args import non_negative_int, positive_int

NAME = "eval"
HELP = "evaluate a run or an exported policy folder for N episodes (optionally other engine/params/DR)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR|POLICY_DIR",
                        help="run directory written by `robot-rl train`, or a policy folder with policy.json")
    parser.add_argument("--task", default=None, help="task to evaluate on (default: the run's)")
    parser.add_argument("--env-id", default=None, help="Gymnasium env id to evaluate on (default: the run's)")
    parser.add_argument("--engine", choices=["mujoco", "pybullet"], default=None, help="default: the run's")
    parser.add_argument("--randomize", default=None, metavar="CFG", help="config name, YAML path or 'none'")
    parser.add_argument("--params", default=None, metavar="FILE", help="physics params file")
    parser.add_argument("--episodes", type=positive_int, default=10, help="episodes, >= 1 (default 10)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="episode i uses seed+i, >= 0 (default 0)")
    parser.add_argument("--checkpoint", default="last.pt", help="file in checkpoints/ (last.pt, best.pt, ...)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a sentence")


def _evaluated_object(args: argparse.Namespace):
    """(policy_fn, defaults, description) for a run directory or a policy folder."""
    from robot_rl.runtime.card import CARD_FILE

    if (args.run_dir / CARD_FILE).is_file():
        from robot_rl.runtime import load_policy_folder

        policy = load_policy_folder(args.run_dir)
        training = policy.card.get("training", {}) or {}
        defaults = {"env_id": policy.card["task"], "engine": training.get("engine"),
                    "randomize": training.get("randomize"), "params": training.get("params")}
        return policy, defaults, {"policy_dir": str(args.run_dir), "policy": "onnx"}

    if not args.run_dir.is_dir():
        from robot_rl.errors import RobotRLError

        raise RobotRLError(f"{args.run_dir}: not a run directory (config.yaml) or a policy folder (policy.json)")
    import torch

    from robot_rl.train import load_policy, read_run_config

    torch.set_num_threads(1)
    config = read_run_config(args.run_dir)
    actor, meta = load_policy(args.run_dir, args.checkpoint)
    if int(meta.get("history", 1)) > 1:
        from robot_rl.errors import RobotRLError

        raise RobotRLError(
            f"{args.run_dir}: the student reads {meta['history']} stacked observations; its summary.json holds "
            "its evaluation (eval takes history-1 students)"
        )

    @torch.inference_mode()
    def policy_fn(obs):
        return actor(torch.as_tensor(obs, dtype=torch.float32).unsqueeze(0))[0].numpy()

    defaults = {"env_id": config.env_id, "engine": config.engine, "randomize": config.randomize,
                "params": config.params}
    described = {"run_dir": str(args.run_dir), "checkpoint": meta["checkpoint"], "global_step": meta["global_step"]}
    return policy_fn, defaults, described


def run(args: argparse.Namespace) -> int:
    import json

    from robot_rl.envs import is_our_task, make_env, resolve_env_id, task_kwargs_for
    from robot_rl.training.evaluation import evaluate

    if args.episodes < 1:
        raise SystemExit("robot-rl eval: --episodes must be at least 1")
    policy_fn, defaults, described = _evaluated_object(args)
    env_id = resolve_env_id(args.task or args.env_id or defaults["env_id"])
    engine = args.engine or defaults["engine"] or "mujoco"
    if args.randomize is not None:
        randomize = None if args.randomize == "none" else args.randomize
    else:
        randomize = defaults["randomize"]
    params = args.params if args.params is not None else defaults["params"]
    kwargs = task_kwargs_for(env_id, engine, randomize, params)

    result = evaluate(policy_fn, lambda: make_env(env_id, **kwargs), args.episodes, args.seed)
    result.update(described)
    result.update(
        {
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
