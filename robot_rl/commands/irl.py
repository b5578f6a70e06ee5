"""Inverse RL from recorded robot runs: GAIL or AIRL with PPO on our vector envs; the learned reward saved for
`train --reward`.

Examples:
  robot-rl record-demos --policy policies/cartpole_swingup --episodes 20 --randomization default --out demos/su
  robot-rl irl --demos demos/su --task CartpoleSwingup-v0 --out runs/irl_swingup --expert policies/cartpole_swingup
  robot-rl irl --method airl --skip-start 0.6 --demos demos/su --task CartpoleSwingup-v0 --out runs/airl_swingup
  robot-rl train --task CartpoleSwingup-v0 --reward runs/irl_swingup/reward.pt --params heavy_pole.yaml

The demonstrations are read as `robot-rl bc` reads them (the task's observation function on the
bag's joint states). The output is the PPO learner's run directory (`robot-rl eval`/`export` take it),
RUN/reward.pt (the learned reward, of the robot's state without the last action: GAIL's discriminator,
or AIRL's g, whose shaping term h and the policy's log pi stay behind)
and RUN/reward_vs_true.png: the learned reward against the task's true reward per step on held-out
episodes of the learner, a random policy and, with --expert, the expert (correlations in summary.json).
PPO settings: --set KEY=VALUE (the fields of PPOConfig, as for `robot-rl train`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from robot_rl.commands._args import non_negative_int, positive_int, seconds, seed_int

NAME = "irl"
HELP = ("inverse RL (GAIL or AIRL, PPO inner learner) from rosbag2 demonstrations; saves the learned reward "
        "for train --reward")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--demos", nargs="+", required=True, metavar="BAG", help="rosbag2 folders of the runs")
    parser.add_argument("--task", required=True)
    parser.add_argument("--robot", default=None, help="the robot (default: an alias task's own)")
    parser.add_argument("--out", type=Path, required=True, metavar="RUN")
    parser.add_argument("--method", default="gail", choices=("gail", "airl"),
                        help="gail: a state-only discriminator D, reward D(s') (default); airl: "
                             "f = g(s) + gamma h(s') - h(s) against log pi, the saved reward is g")
    parser.add_argument("--steps", type=positive_int, default=300_000, help="PPO env steps (default 300k)")
    parser.add_argument("--reward-inputs", default="positions", choices=("positions", "state"),
                        help="what the learned reward reads: joint positions and goal (default), or also velocities")
    parser.add_argument("--airl-reward", default="g", choices=("g", "f"),
                        help="airl: what reward.pt pays, g(s) alone (default) or f = g(s) + gamma h(s') - h(s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="PPO setting")
    parser.add_argument("--expert", default=None, metavar="FOLDER", help="policy folder shown in the reward plot")
    parser.add_argument("--plot-episodes", type=non_negative_int, default=3, help="held-out episodes per policy")
    parser.add_argument("--skip-start", type=seconds(0.0), default=0.0, metavar="S",
                        help="leave out each episode's first S seconds (a start-up ramp's commands; on the "
                             "swing-up, 0.6 s of pumping near hanging, which a learned reward would pay)")
    parser.add_argument("--engine", default="mujoco", choices=("mujoco", "pybullet"))
    parser.add_argument("--eval-episodes", type=non_negative_int, default=20)
    parser.add_argument("--seed", type=seed_int, default=0)


def run(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from robot_rl.envs import task_kwargs_for
    from robot_rl.imitation.adversarial import IRLError, reward_against_true
    from robot_rl.imitation.airl import AIRLConfig, airl
    from robot_rl.imitation.demos import read_demonstrations
    from robot_rl.imitation.gail import GAILConfig, gail
    from robot_rl.imitation.reward import load_reward
    from robot_rl.train import command_line, load_policy
    from sim.tasks.registry import task_spec
    from sim.validation import load_yaml_text

    settings = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise IRLError(f"--set expects KEY=VALUE (a PPO setting), got '{item}'")
        settings[key.strip()] = load_yaml_text(value, f"--set {item}")
    demos = read_demonstrations(args.demos, args.task, args.robot, skip_start=args.skip_start)
    print(f"{len(demos.obs)} observations from {demos.episodes} episodes of {demos.task} on '{demos.robot}'")
    method, config = ((gail, GAILConfig(reward_inputs=args.reward_inputs)) if args.method == "gail"
                      else (airl, AIRLConfig(reward_inputs=args.reward_inputs, saved_reward=args.airl_reward)))
    summary = method(demos, args.out, args.steps, seed=args.seed, engine=args.engine, ppo_settings=settings,
                     config=config, eval_episodes=args.eval_episodes, command=command_line(), progress=True)
    if args.plot_episodes:
        import torch

        net, _ = load_reward(args.out / "reward.pt")
        actor, _ = load_policy(args.out)
        rng = np.random.default_rng(args.seed)
        act_size = demos.interface.action_size
        policies = {"learner": lambda o: actor(torch.as_tensor(o)[None])[0].numpy(),
                    "random": lambda o: rng.uniform(-1, 1, act_size)}
        if args.expert:
            from robot_rl.runtime.onnx_policy import load_policy_folder

            expert = load_policy_folder(args.expert)
            policies["expert"] = lambda o: np.clip(expert(o[None])[0], -1, 1)
        env_id = f"robot_rl/{demos.task}"
        robot_arg = None if task_spec(demos.task).robot is not None else demos.robot
        with torch.no_grad():
            summary["reward_vs_true"] = reward_against_true(
                net, env_id, task_kwargs_for(env_id, args.engine, None, None, robot_arg), policies,
                args.plot_episodes, args.seed + 2_000_000, args.out / "reward_vs_true.png")
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    ev = summary["final_eval"]
    line = f"learner's true return {ev['mean_return']:.1f} +- {ev['std_return']:.1f}" if ev else "trained"
    if "reward_vs_true" in summary:
        line += f"; learned vs true reward per step: r = {summary['reward_vs_true']['correlation_all']:.2f}"
    print(f"{line}; reward: {args.out / 'reward.pt'} (robot-rl train --reward); run dir: {args.out}")
    return 0
