"""The whole sim-to-real loop on embedded defaults, end to end, on this machine.

  1. train   PPO on CartpoleSwingup-v0 in MuJoCo under the default domain randomization
  2. export  the actor to ONNX with its model card
  3. deploy  the policy node drives a PyBullet sim robot with a reality gap (heavier pole, stiffer
             hinge, rougher rail, weaker motor, slower command path): two processes over real DDS,
             recording joint states and commands to rosbag2
  4. sysid   an identification run on the same robot (multisine through the SafetyFilter, over
             DDS, recorded), then identify those five parameters from it (mujoco.sysid)
  5. compare return in the training sim, on the "robot", and in the calibrated sim, plus the
             identified parameters against the sim robot's true ones

Writes summary.json, training_curve.png, deployment.png and the sysid report (calib/report.html)
into --out. Takes about 1-3 minutes here (training: 30-60 s); --quick uses the shipped policy
(policies/cartpole_swingup) instead of training and takes under a minute.

Examples:
  robot-rl demo                       # what `make demo` runs
  robot-rl demo --quick
  robot-rl demo --policy runs/my_policy_folder --out demo_out/mine
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "demo"
HELP = "the whole loop on embedded defaults: train, export, deploy over DDS, identify, compare"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="use the shipped policy instead of training")
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default demo_out/)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--steps", type=int, default=600_000, help="training env steps (default 600k)")
    parser.add_argument("--episodes", type=int, default=6, help="episodes on the robot and in each sim (default 6)")
    parser.add_argument("--policy", type=Path, default=None, help="deploy this policy folder instead")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import torch
    from rich.console import Console

    from robot_rl.full_loop import DemoConfig
    from robot_rl.full_loop import run as run_loop

    torch.set_num_threads(1)
    if args.steps < 1 or args.episodes < 1:
        raise SystemExit("robot-rl demo: --steps and --episodes must be positive")
    cfg = DemoConfig(out=args.out, quick=args.quick, seed=args.seed, train_steps=args.steps,
                     robot_episodes=args.episodes, policy=args.policy, progress=not args.no_progress)
    run_loop(cfg, Console())
    return 0
