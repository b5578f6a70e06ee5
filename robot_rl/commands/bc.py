"""Behaviour cloning from recorded robot runs (rosbag2): a deployable policy regressed on the demonstrations.

Examples:
  robot-rl record-demos --policy policies/cartpole_swingup --episodes 20 --randomization default \\
      --action-noise 0.2 --out demos/su    # DART: the swing-up clone then succeeds for every seed measured
  robot-rl bc --demos demos/su --task CartpoleSwingup-v0 --out runs/bc_swingup
  robot-rl bc --demos lab1.bag lab2.bag --task Reach-v0 --robot iiwa --out runs/bc_reach
  robot-rl bc --demos demos/su --task CartpoleSwingup-v0 --dagger-rounds 3 --expert policies/cartpole_swingup \\
      --out runs/bc_dagger
  robot-rl eval runs/bc_swingup && robot-rl export runs/bc_swingup --out policies/bc_swingup

Observations are rebuilt from the bag's joint states (and goal, velocity command, IMU where the task
observes them) by the task's own observation function, the one the deploy runtime uses; actions are
the recorded commands mapped back through the policy's action scaling. The run directory is a run
like any other (config.yaml, checkpoints/last.pt, metrics.csv, summary.json). summary.json reports
the clone's action error on held-out episodes and its evaluation in simulation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from robot_rl.commands._args import non_negative_int, number, positive_int, seconds, seed_int

NAME = "bc"
HELP = "behaviour cloning from rosbag2 demonstrations (optional DAgger with a simulated expert) into a run dir"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--demos", nargs="+", required=True, metavar="BAG", help="rosbag2 folders of the runs")
    parser.add_argument("--task", required=True, help="the task the demonstrations do (e.g. CartpoleSwingup-v0)")
    parser.add_argument("--robot", default=None, help="the robot (default: an alias task's own)")
    parser.add_argument("--out", type=Path, required=True, metavar="RUN", help="new run directory")
    parser.add_argument("--steps", type=positive_int, default=4000, help="gradient steps (default 4000)")
    parser.add_argument("--hidden", default="128,128", help="hidden layer widths (default 128,128)")
    parser.add_argument("--lr", type=number(0.0, min_open=True), default=1e-3)
    parser.add_argument("--held-out", type=number(0.0, 0.9), default=0.2, help="share of episodes held out")
    parser.add_argument("--keep-last-action", action="store_true",
                        help="show the clone the previous action in training (off by default: the copycat problem)")
    parser.add_argument("--skip-start", type=seconds(0.0), default=0.0, metavar="S",
                        help="leave out each episode's first S seconds (a start-up ramp's commands)")
    parser.add_argument("--dagger-rounds", type=non_negative_int, default=0, metavar="N",
                        help="DAgger rounds in simulation, labelled by --expert")
    parser.add_argument("--expert", default=None, metavar="FOLDER", help="policy folder that labels DAgger states")
    parser.add_argument("--engine", default="mujoco", choices=("mujoco", "pybullet"),
                        help="simulator for DAgger and the evaluation")
    parser.add_argument("--eval-episodes", type=non_negative_int, default=20)
    parser.add_argument("--state-topic", default=None)
    parser.add_argument("--command-topic", default=None)
    parser.add_argument("--goal-topic", default="/goal_point")
    parser.add_argument("--cmd-vel-topic", default="/cmd_vel")
    parser.add_argument("--imu-topic", default="/imu/data")
    parser.add_argument("--seed", type=seed_int, default=0)


def run(args: argparse.Namespace) -> int:
    from robot_rl.imitation.bc import BCConfig, BCError, behaviour_clone
    from robot_rl.imitation.demos import read_demonstrations
    from robot_rl.train import command_line

    try:
        hidden = tuple(int(w) for w in str(args.hidden).split(","))
    except ValueError:
        hidden = ()
    if not hidden or min(hidden) < 1:
        raise BCError(f"--hidden {args.hidden!r}: expected comma-separated positive widths, e.g. 128,128")
    demos = read_demonstrations(args.demos, args.task, args.robot, state_topic=args.state_topic,
                                command_topic=args.command_topic, goal_topic=args.goal_topic,
                                cmd_vel_topic=args.cmd_vel_topic, imu_topic=args.imu_topic,
                                skip_start=args.skip_start)
    print(f"{len(demos.obs)} (observation, action) pairs from {demos.episodes} episodes of {demos.task} on "
          f"'{demos.robot}'" + (f"; {demos.clipped:.1%} of commands beyond the action range" if demos.clipped else ""))
    config = BCConfig(hidden=hidden, learning_rate=args.lr, gradient_steps=args.steps, held_out=args.held_out,
                      mask_last_action=not args.keep_last_action, dagger_rounds=args.dagger_rounds)
    summary = behaviour_clone(demos, args.out, config, seed=args.seed, engine=args.engine, expert=args.expert,
                              eval_episodes=args.eval_episodes, command=command_line(), progress=True)
    line = f"held-out action error {summary['held_out_action_error']:.4f}"
    ev = summary["final_eval"]
    if ev:
        success = "" if ev["success_rate"] is None else f", success {ev['success_rate']:.2f}"
        line += f"; in simulation: return {ev['mean_return']:.1f} +- {ev['std_return']:.1f}{success}"
    print(f"{line}; run dir: {args.out}")
    return 0
