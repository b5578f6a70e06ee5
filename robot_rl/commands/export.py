"""Export a trained run to a policy folder a robot can run: policy.onnx + policy.json (model card).

Examples:
  robot-rl export runs/swingup --out policies/cartpole_swingup
  robot-rl export runs/reach --out policies/iiwa_reach --checkpoint best.pt --eval-episodes 20
  robot-rl export runs/swingup --out /tmp/p --eval-episodes 0        skip evaluation (fast)

policy.onnx is the deterministic actor: raw observation in (normalization is inside the graph),
action in [-1, 1] out. policy.json says what the robot needs to run it and what to expect: robot
and joint order, observation layout with units, what each action means and how it scales to a
force or target position, limits, control rate, the training command, seed and git commit, ONNX
opset and SHA-256, and evaluation of the ONNX policy in MuJoCo and PyBullet, with and without
domain randomization. Export fails, writing nothing, if onnxruntime and the torch actor disagree by
more than 1e-5 on 1000 random observations.

Then: `robot-rl policies` lists policy folders; `robot-rl eval FOLDER` evaluates one;
`robot-rl deploy --policy FOLDER` runs it behind the safety filter.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "export"
HELP = "export a trained run to policy.onnx + policy.json (model card with contract and evaluation)"

ENGINES = ("mujoco", "pybullet")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="run directory written by `robot-rl train`")
    parser.add_argument("--out", type=Path, required=True, help="policy folder to write, e.g. policies/NAME")
    parser.add_argument("--name", default=None, help="policy name in the card (default: the folder's name)")
    parser.add_argument("--checkpoint", default="last.pt", help="file in checkpoints/ (last.pt, best.pt, ...)")
    parser.add_argument(
        "--eval-episodes",
        type=int,
        default=10,
        metavar="N",
        help="episodes per evaluation condition (MuJoCo/PyBullet x nominal/DR); 0 skips evaluation",
    )
    parser.add_argument("--eval-seed", type=int, default=1000, help="episode i of each condition uses seed+i")
    parser.add_argument(
        "--randomize",
        default=None,
        metavar="CFG",
        help="DR config for the 'with DR' evaluations (default: the run's, else 'default')",
    )
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's)")


def evaluate_conditions(policy, task: str, episodes: int, seed: int, randomize: str, progress=None) -> dict:
    """The card's evaluation: the ONNX policy in each engine, nominal and under domain randomization."""
    from robot_rl.envs import make_env, resolve_env_id
    from robot_rl.training.evaluation import evaluate

    env_id = resolve_env_id(task)
    results = {}
    for engine in ENGINES:
        for label, dr in (("", None), ("_dr", randomize)):
            if progress is not None:
                progress(f"{engine}{' + DR ' + dr if dr else ''}")

            def factory(engine=engine, dr=dr):
                return make_env(env_id, engine=engine, randomization=dr)

            results[engine + label] = evaluate(policy, factory, episodes, seed)
    return {
        "policy": "policy.onnx through onnxruntime (robot_rl.runtime.OnnxPolicy)",
        "episodes": episodes,
        "seed": seed,
        "randomization": randomize,
        "results": results,
    }


def export_command(args: argparse.Namespace) -> str:
    """The command that repeats this export, with every setting spelled out (for the card)."""
    import shlex

    words = ["robot-rl", NAME, str(args.run_dir), "--out", str(args.out), "--checkpoint", args.checkpoint]
    words += ["--eval-episodes", str(args.eval_episodes), "--eval-seed", str(args.eval_seed)]
    for flag, value in (("--name", args.name), ("--randomize", args.randomize), ("--opset", args.opset)):
        if value is not None:
            words += [flag, str(value)]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    import torch

    from robot_rl.export import export_actor
    from robot_rl.train import load_policy

    torch.set_num_threads(1)
    if args.eval_episodes < 0:
        from robot_rl.errors import RobotRLError

        raise RobotRLError(f"--eval-episodes is {args.eval_episodes}; give 0 (skip) or more episodes")
    actor, meta = load_policy(args.run_dir, args.checkpoint)
    meta = {**meta, "run_dir": str(args.run_dir)}
    randomize = args.randomize or meta.get("randomize") or "default"
    print(f"exporting {meta.get('task')} ({meta.get('algo')}, step {meta.get('global_step')}) to {args.out}")

    evaluate_fn = None
    if args.eval_episodes > 0:

        def evaluate_fn(policy):
            def say(condition: str) -> None:
                print(f"  evaluating {args.eval_episodes} episodes: {condition}", flush=True)

            return evaluate_conditions(policy, meta["task"], args.eval_episodes, args.eval_seed, randomize, say)

    card = export_actor(
        actor,
        meta,
        args.out,
        name=args.name,
        opset=args.opset,
        evaluate_fn=evaluate_fn,
        export_command=export_command(args),
    )
    parity = card["parity"]
    print(
        f"wrote {args.out / 'policy.onnx'} (opset {card['onnx']['opset']}, sha256 {card['onnx']['sha256'][:12]}...) "
        f"and policy.json; parity max |torch - onnx| = "
        f"{max(parity['max_abs_diff_batched'], parity['max_abs_diff_single']):.2g} on {parity['samples']} observations"
    )
    if card["evaluation"]:
        for condition, res in card["evaluation"]["results"].items():
            success = res.get("success_rate")
            print(
                f"  {condition:12s} return {res['mean_return']:9.2f} +- {res['std_return']:7.2f}"
                + (f"  success {success:.2f}" if success is not None else "")
            )
    return 0
