"""Learning from demonstrations on the swing-up (issue 26's targets), as JSON lines in bench/results/imitation.jsonl.

1. Demonstrations: the shipped swing-up policy drives `sim-robot` (PyBullet, encoder noise) over Cyclone
   DDS, `deploy --record` writes the bag (`robot-rl record-demos`): 20 episodes under the default domain
   randomization, and 20 on the nominal robot (for the comparison BC's docs make).
2. BC from the 20 episodes: success on the nominal cart-pole in MuJoCo (target >= 0.9), for `--bc-seeds`
   training seeds each; the demonstrations also recorded with DART (`--bc-noise`: the sim robot executes
   each command plus noise, the bag's commands stay the expert's clean actions), the swing-up's BC recipe.
3. GAIL from the same 20 episodes, then PPO from scratch on the saved learned reward alone
   (`train --reward`): its true return against the expert's (target >= 90%).
4. Transfer: pole 50% heavier and 20 ms command latency (dynamics not in the demonstrations): PPO
   re-optimized on the learned reward on that robot against the BC clone there (target: beats it).
5. The iiwa reach (`--skip swingup` runs only this): 50 episodes of the shipped policy recorded the same
   way (the bag carries each episode's goal), BC, success on the nominal iiwa (target >= 0.8).

`--irl airl` runs AIRL instead of GAIL in part 3.

Usage: python bench/imitation.py [--quick] [--gail-steps N] [--ppo-steps N] [--seed S] [--irl gail|airl]
Every figure is measured on this machine (2 shared cores); `--quick` shrinks the budgets for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "imitation.jsonl"
EXPERT = ROOT / "policies" / "cartpole_swingup"
REACH_EXPERT = ROOT / "policies" / "iiwa_reach"
REACH_TASK = "IiwaReach-v0"
TASK = "CartpoleSwingup-v0"
ENV_ID = f"robot_rl/{TASK}"
TRANSFER = {"pole.mass": {"scale": 1.5}, "action_delay": 0.02}


def emit(record: dict) -> None:
    record = {"bench": "imitation", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": platform.node(),
              **record}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS, "a") as f:
        f.write(json.dumps(record) + "\n")
    print(json.dumps(record), flush=True)


def evaluate_fn(policy, params: dict | None, episodes: int, seed: int) -> dict:
    from robot_rl.envs import make_env, task_kwargs_for
    from robot_rl.training.evaluation import evaluate

    kwargs = task_kwargs_for(ENV_ID, "mujoco", None, params, None)
    res = evaluate(policy, lambda: make_env(ENV_ID, **kwargs), episodes, seed)
    return {k: res[k] for k in ("mean_return", "std_return", "success_rate", "episodes")}


def run_policy(run_dir: Path):
    from robot_rl.train import load_policy

    actor, _ = load_policy(run_dir)
    return lambda o: actor(torch.as_tensor(o)[None])[0].numpy()


def expert_policy():
    from robot_rl.runtime.onnx_policy import load_policy_folder

    expert = load_policy_folder(EXPERT)
    return lambda o: np.clip(expert(o[None])[0], -1, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--gail-steps", type=int, default=300_000)
    parser.add_argument("--ppo-steps", type=int, default=1_000_000,
                        help="PPO from scratch on the learned reward: `robot-rl train`'s PPO default (300k left "
                             "AIRL's g under-optimized, docs/imitation.md)")
    parser.add_argument("--episodes", type=int, default=20, help="demonstration episodes")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bc-seeds", type=int, default=5, help="BC training seeds per demonstration set")
    parser.add_argument("--bc-noise", type=float, default=0.2,
                        help="DART action noise of the 'dart' demonstrations (randomized physics as well)")
    parser.add_argument("--skip", default="", help="comma list of parts to skip: bc,irl,reach,swingup")
    parser.add_argument("--irl", default="gail", choices=("gail", "airl"), help="the IRL method of part 3")
    parser.add_argument("--irl-skip-start", type=float, default=0.0, metavar="S",
                        help="part 3 learns from each demonstration episode without its first S seconds")
    parser.add_argument("--reach-episodes", type=int, default=50, help="iiwa reach demonstration episodes")
    parser.add_argument("--irl-demos", default="randomized", choices=("randomized", "nominal", "dart", "nominal_dart"),
                        help="which demonstrations part 3 learns from (nominal: no heavier pole, no delay in them; "
                             "dart, nominal_dart: recorded with --bc-noise DART action noise)")
    parser.add_argument("--cases", default="nominal,transfer", help="PPO-on-learned-reward cases to run")
    args = parser.parse_args()
    if args.quick:
        args.gail_steps, args.ppo_steps, args.episodes, args.eval_episodes = 20_000, 20_000, 4, 3
    torch.set_num_threads(1)
    from robot_rl.imitation.airl import airl
    from robot_rl.imitation.bc import BCConfig, behaviour_clone
    from robot_rl.imitation.demos import read_demonstrations
    from robot_rl.imitation.gail import gail
    from robot_rl.imitation.record import record_demonstrations
    from robot_rl.train import RunConfig, train

    skip = set(filter(None, args.skip.split(",")))
    work = Path(tempfile.mkdtemp(prefix="bench_imitation_"))
    if "reach" not in skip:
        reach(work, args)
    if "swingup" in skip:
        return
    eval_seed = 5_000_000 + args.seed
    expert_nominal = evaluate_fn(expert_policy(), None, args.eval_episodes, eval_seed)
    expert_transfer = evaluate_fn(expert_policy(), TRANSFER, args.eval_episodes, eval_seed)
    emit({"part": "expert", "nominal": expert_nominal, "transfer": expert_transfer, "transfer_params": TRANSFER})

    bags = {}
    for name, randomization, noise in (("randomized", "default", 0.0), ("nominal", None, 0.0),
                                       ("dart", "default", args.bc_noise), ("nominal_dart", None, args.bc_noise)):
        wanted = {"dart": "bc" not in skip, "nominal_dart": False}.get(name, True)
        if not (wanted or name == args.irl_demos):
            continue
        t0 = time.perf_counter()
        bag = work / f"demos_{name}"
        rec = record_demonstrations(EXPERT, bag, args.episodes, seed=100 + args.seed, randomization=randomization,
                                    action_noise=noise)
        bags[name] = bag
        emit({"part": "demos", "demos": name, "action_noise": noise, "episodes": rec["episodes"],
              "expert_return_in_sim_robot": rec["mean_return"], "expert_success": rec["success_rate"],
              "record_s": time.perf_counter() - t0})

    bc_runs = {}
    if "bc" not in skip:
        for name, bag in bags.items():
            demos = read_demonstrations([bag], TASK)
            successes = []
            for seed in range(args.seed, args.seed + max(args.bc_seeds, 1)):
                t0 = time.perf_counter()
                out = work / f"bc_{name}_{seed}"
                s = behaviour_clone(demos, out, BCConfig(), seed=seed, eval_episodes=0)
                bc_runs.setdefault(name, out)  # the bench seed's clone, for the transfer comparison
                policy = run_policy(out)
                nominal = evaluate_fn(policy, None, args.eval_episodes, eval_seed)
                successes.append(nominal["success_rate"])
                emit({"part": "bc", "demos": name, "bc_seed": seed, "demo_episodes": demos.episodes,
                      "gradient_steps": s["global_step"], "held_out_action_error": s["held_out_action_error"],
                      "train_s": time.perf_counter() - t0, "nominal": nominal,
                      "transfer": evaluate_fn(policy, TRANSFER, args.eval_episodes, eval_seed),
                      "target": "success >= 0.9 nominal"})
            emit({"part": "bc_seeds", "demos": name, "bc_seeds": len(successes), "nominal_success": successes,
                  "seeds_meeting_target": sum(x >= 0.9 for x in successes), "target": "success >= 0.9 nominal"})

    if "irl" not in skip:
        demos = read_demonstrations([bags[args.irl_demos]], TASK, skip_start=args.irl_skip_start)
        t0 = time.perf_counter()
        irl = work / "irl"
        method = airl if args.irl == "airl" else gail
        s = method(demos, irl, args.gail_steps, seed=args.seed, eval_episodes=args.eval_episodes)
        emit({"part": args.irl, "demos": args.irl_demos, "skip_start": args.irl_skip_start, "steps": s["global_step"],
              "train_s": time.perf_counter() - t0,
              "learner_nominal": evaluate_fn(run_policy(irl), None, args.eval_episodes, eval_seed)})
        for case, params in (("nominal", None), ("transfer", TRANSFER)):
            if case not in args.cases.split(","):
                continue
            t0 = time.perf_counter()
            out = work / f"ppo_learned_reward_{case}"
            config = RunConfig(env_id=ENV_ID, algo="ppo", steps=args.ppo_steps, seed=args.seed, engine="mujoco",
                               params=params, eval_every=0, eval_episodes=args.eval_episodes,
                               checkpoint_every=0, reward=str(irl / "reward.pt"))
            train(config, out, progress=False)
            res = evaluate_fn(run_policy(out), params, args.eval_episodes, eval_seed)
            expert = expert_nominal if case == "nominal" else expert_transfer
            record = {"part": "ppo_on_learned_reward", "irl": args.irl, "skip_start": args.irl_skip_start, "case": case,
                      "irl_demos": args.irl_demos,
                      "steps": args.ppo_steps,
                      "train_s": time.perf_counter() - t0, "true_eval": res, "expert_eval": expert,
                      "return_ratio_to_expert": res["mean_return"] / expert["mean_return"]}
            if case == "nominal":
                record["target"] = "return >= 0.9 x expert's"
            else:
                bc = bc_runs.get(args.irl_demos)  # the clone of the same demonstrations
                if bc is not None:
                    record["bc_transfer"] = evaluate_fn(run_policy(bc), TRANSFER, args.eval_episodes, eval_seed)
                record["target"] = "success above the BC clone's on this robot"
            emit(record)


def reach(work: Path, args: argparse.Namespace) -> None:
    """Part 5: BC on the iiwa reach from demonstrations recorded under domain randomization (as the
    swing-up's: nominal demonstrations from one home pose cover too few states), judged on the nominal iiwa."""
    from robot_rl.envs import make_env, task_kwargs_for
    from robot_rl.imitation.bc import BCConfig, behaviour_clone
    from robot_rl.imitation.demos import read_demonstrations
    from robot_rl.imitation.record import record_demonstrations
    from robot_rl.training.evaluation import evaluate

    episodes = 4 if args.quick else args.reach_episodes
    t0 = time.perf_counter()
    bag = work / "demos_reach"
    rec = record_demonstrations(REACH_EXPERT, bag, episodes, seed=100 + args.seed, randomization="default")
    record_s = time.perf_counter() - t0
    demos = read_demonstrations([bag], REACH_TASK)
    t0 = time.perf_counter()
    out = work / "bc_reach"
    s = behaviour_clone(demos, out, BCConfig(), seed=args.seed, eval_episodes=0)
    env_id = f"robot_rl/{REACH_TASK}"
    kwargs = task_kwargs_for(env_id, "mujoco", None, None, None)
    res = evaluate(run_policy(out), lambda: make_env(env_id, **kwargs), args.eval_episodes, 5_000_000 + args.seed)
    emit({"part": "bc_reach", "demos": "randomized", "demo_episodes": demos.episodes,
          "expert_success_in_sim_robot": rec["success_rate"], "record_s": record_s,
          "gradient_steps": s["global_step"], "held_out_action_error": s["held_out_action_error"],
          "train_s": time.perf_counter() - t0,
          "nominal": {k: res[k] for k in ("mean_return", "std_return", "success_rate", "episodes")},
          "target": "success >= 0.8 nominal"})


if __name__ == "__main__":
    main()
