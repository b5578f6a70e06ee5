"""The whole sim-to-real loop on embedded defaults, end to end, on this machine, for any robot.

  1. train   PPO on the robot's task in MuJoCo under its default domain randomization
  2. export  the actor to ONNX with its model card
  3. deploy  the policy node drives a PyBullet sim robot with a reality gap: two processes over
             real DDS, recording joint states and commands to rosbag2
  4. sysid   an identification run on the same robot (multisine through the SafetyFilter, over
             DDS, recorded), then identify the gap's parameters from it (mujoco.sysid)
  5. compare return in the training sim, on the "robot", and in the calibrated sim, plus the
             identified parameters against the sim robot's true ones
  6. retrain (an arm) fine-tune the policy on the calibrated simulator, deploy it to the robot
             again, and print success and final position error before and after

--robot R (a shipped robot's name or a robot.yaml path; default: the cart-pole) runs the loop of R's
kind (robot_rl/demo/):
  cart-pole  PoleSwingup-v0. Its gap (sim/robots/cartpole/demo.yaml): heavier pole, stiffer hinge,
             rougher rail, weaker motor, slower command path (5 parameters). About 1-3 minutes
             (training 30-60 s); --quick uses policies/cartpole_swingup, under a minute.
  arm        Reach-v0 (the iiwa, the panda, an arm of your own). The iiwa's gap
             (sim/robots/iiwa/demo.yaml): links 3 and 5 heavier, a 0.5 kg payload, shoulder/elbow
             damping x3/x2.5, 0.5-1 Nm joint friction, 20 ms latency (9 parameters). Trains from
             scratch with the reach preset for 3 minutes (--time-budget; the iiwa reached 0.95
             success under the gap-class DR after 61-94 s here), then fine-tunes 500k steps on the
             calibrated simulator: 9.6 min in all on the iiwa here at load 5-11 (6 of 6 reaches on
             the robot); --quick starts from the shipped policy (and its checkpoint.pt, if it has
             one) and fine-tunes 100k steps: 1-3 min.
  legged     Walk-v0 (the A1, the Laikago, yours), --quick or --policy only: training a walk from
             scratch takes about an hour here (`robot-rl train --task Walk --robot R`, the legged
             preset), more than a demo. The gap: base +25%, floor friction 0.5x, motors -15%, kd +30%,
             20 ms latency, encoder/IMU noise, 0.2 N*m joint friction. Deploys over DDS (JointState,
             Imu, /cmd_vel), reports success, falls and velocity tracking error; identifies the
             motors with the robot hung on a gantry (excite --suspended, then sysid of
             *.gain,*.kd,*.frictionloss,action_delay); compares with the training and the calibrated
             simulator. On the A1: 65 s of CPU; 11 min 40 s wall here with two trainings on both
             cores (load ~8, nice 15).
A robot whose folder has no demo.yaml gets its kind's gap, derived from its structure (robot_rl/demo/
arm.py, legged.py, pole.py); write ROBOT_DIR/demo.yaml (reality_gap:, fit:) to choose your own. --quick
uses the policy under policies/ whose card names the robot and the kind's task; without one it says
how to train it.

The sim robots read their joints as real robots do (encoder counts and noise, a MEMS IMU's noise:
robot_rl.deploy.sensor_model), so the identified parameters come with the errors and intervals of
noisy data; --ideal-sensors gives them the simulator's exact values (summary.json's "sensors" says
which).

Writes summary.json, training_curve.png, deployment.png, the sysid report (calib/report.html) and in
it a replay of the identification run's first --video-seconds (default 10) beside the nominal and
the calibrated simulator (calib/replay.mp4; --video-seconds 0: none, 10-20 s less on a software renderer)
into --out (and, for an arm, the fine-tuned policy in policy_calibrated/). An --out that already
holds files (an earlier demo's) is refused unless --force, which replaces the demo's outputs there.
A legged robot's summary.json adds per-episode falls and tracking error and every identified parameter.

Examples:
  robot-rl demo                       # what `make demo` runs
  robot-rl demo --quick
  robot-rl demo --robot iiwa --quick --out demo_out/iiwa
  robot-rl demo --robot panda         # Reach from scratch (3 min of training), identify, fine-tune
  robot-rl demo --robot a1 --quick    # -> demo_out/a1
  robot-rl demo --robot robots/myarm/robot.yaml --quick
  robot-rl demo --policy runs/my_policy_folder --out demo_out/mine
"""

from __future__ import annotations

import argparse
from pathlib import Path

from robot_rl.commands._args import seconds, seed_int
from robot_rl.commands.train import time_budget

NAME = "demo"
HELP = "the whole loop on embedded defaults: train, export, deploy over DDS, identify, compare (, retrain)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from robot_rl.demo.config import DEFAULT_VIDEO_SECONDS

    parser.add_argument("--robot", default=None,
                        help="a shipped robot's name (`robot-rl robots` lists them) or a robot.yaml path: runs the "
                        "loop of its kind (default: the cart-pole's swing-up)")
    parser.add_argument("--quick", action="store_true",
                        help="use the shipped policy instead of training (a legged robot always does: --quick or "
                        "--policy)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default demo_out/; demo_out/<robot> with --robot)")
    parser.add_argument("--seed", type=seed_int, default=0, help="training seed (default 0; legged: the excitation's)")
    parser.add_argument("--steps", type=int, default=None,
                        help="training env steps (default: the kind's: cart-pole 600k; an arm trains for "
                        "--time-budget instead, at most 2M steps)")
    parser.add_argument("--time-budget", type=time_budget, default=None, metavar="DURATION",
                        help="wall-clock training time (90s, 3m, 1h; as `robot-rl train --time-budget`), with "
                        "--steps whichever comes first (default: an arm's 3m unless --steps is given)")
    parser.add_argument("--finetune-steps", type=int, default=None,
                        help="fine-tuning env steps on the calibrated simulator (an arm; default 500k, --quick 100k)")
    parser.add_argument("--episodes", type=int, default=None,
                        help="episodes on the robot and in each sim (default 6; legged: 3, 20 s each)")
    parser.add_argument("--policy", type=Path, default=None, help="deploy this policy folder instead")
    parser.add_argument("--force", action="store_true",
                        help="run in an --out that already holds files, replacing an earlier demo's outputs there")
    parser.add_argument("--ideal-sensors", action="store_true",
                        help="the sim robots publish the simulator's exact joint values, not encoder counts and "
                        "noise (exact identification; no real robot reads its joints this way)")
    parser.add_argument("--video-seconds", type=seconds(0.0), default=DEFAULT_VIDEO_SECONDS, metavar="S",
                        help=f"film the identification run's first S seconds beside the nominal and calibrated "
                        f"simulators into calib/replay.mp4 (default {DEFAULT_VIDEO_SECONDS:g}; 0: no video)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    import torch
    from rich.console import Console

    from robot_rl.demo import DemoConfig
    from robot_rl.demo import run as run_loop
    from robot_rl.demo.facts import demo_spec

    torch.set_num_threads(1)
    for flag, value in (("--steps", args.steps), ("--finetune-steps", args.finetune_steps),
                        ("--episodes", args.episodes)):
        if value is not None and value < 1:
            raise SystemExit(f"robot-rl demo: {flag} must be positive, got {value}")
    spec = demo_spec(args.robot)
    if spec.kind.loop == "legged" and (args.steps is not None or args.finetune_steps is not None
                                       or args.time_budget is not None):
        raise SystemExit(f"robot-rl demo --robot {spec.robot}: --steps, --time-budget and --finetune-steps do not "
                         "apply (the legged demo deploys a trained policy: --quick or --policy)")
    out = args.out or (Path("demo_out") if args.robot is None else Path("demo_out") / spec.name)
    check_demo_out(out, args.force)
    cfg = DemoConfig(out=out, quick=args.quick, seed=args.seed, train_steps=args.steps,
                     train_time_budget_s=args.time_budget,
                     robot_episodes=args.episodes, policy=args.policy, progress=not args.no_progress,
                     robot=spec.robot, finetune_steps=args.finetune_steps, ideal_sensors=args.ideal_sensors,
                     video_seconds=args.video_seconds)
    run_loop(cfg, Console(), spec)
    return 0


def check_demo_out(out: Path, force: bool) -> None:
    """Refuse an --out that is a file, or a folder with anything in it unless ``force``.

    Why: a demo writes bags, a calibration, policy folders and a training run into --out and replaces
    its own earlier ones; pointed by a slip at a folder of calibrations or policies, it must not.
    """
    from robot_rl.errors import RobotRLError

    if out.exists() and not out.is_dir():
        raise RobotRLError(f"--out {out} is a file, not a folder; choose a folder for the demo's outputs")
    if force or not out.is_dir():
        return
    entries = sorted(p.name for p in out.iterdir())
    if entries:
        shown = ", ".join(entries[:4]) + (f", ... ({len(entries)} entries)" if len(entries) > 4 else "")
        raise RobotRLError(
            f"--out {out} already holds files ({shown}); pass --force to run the demo there, replacing an "
            "earlier demo's outputs, or choose a new --out"
        )
