"""Record demonstrations of a policy: `sim-robot` driven by `deploy --record` over Cyclone DDS, N episodes, one bag.

Examples:
  robot-rl record-demos --policy policies/cartpole_swingup --episodes 20 --out demos/swingup
  robot-rl bc --demos demos/swingup --task CartpoleSwingup-v0 --out runs/bc_swingup
  robot-rl record-demos --policy policies/iiwa_reach --episodes 50 --randomization default --out demos/reach
  robot-rl record-demos --policy policies/cartpole_swingup --randomization default --action-noise 0.2 --out demos/su

The bag holds /joint_states and the commands the node sent (after the SafetyFilter, ramp off),
each episode marked by the simulated robot's episode frame id, and the task inputs each step used
(the reach's /goal_point, a walk's /imu/data and /cmd_vel), so `bc` rebuilds what the policy saw;
with --action-noise (DART, Laskey et al. 2017) the simulated robot executes each command plus
Gaussian noise, so the states include the expert's recoveries from small errors, while the recorded
commands, the labels, stay the expert's own (after the SafetyFilter, without the noise);
<out>.json holds the expert's true returns and success per episode (episode i seeded with --seed + i).
"""

from __future__ import annotations

import argparse

from robot_rl.commands._args import number, positive_int, seed_int

NAME = "record-demos"
HELP = "record N episodes of a policy on sim-robot over DDS to a rosbag2 (demonstrations for bc / irl)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True, metavar="FOLDER", help="the expert: an exported policy folder")
    parser.add_argument("--out", required=True, metavar="BAG", help="new rosbag2 folder")
    parser.add_argument("--episodes", type=positive_int, default=20)
    parser.add_argument("--robot", default=None, help="default: the policy card's robot")
    parser.add_argument("--engine", default="pybullet", choices=("pybullet", "mujoco"))
    parser.add_argument("--seed", type=seed_int, default=0, help="seed of episode 0 (episode k: seed + k)")
    parser.add_argument("--params", default=None, metavar="FILE", help="physical parameters of the sim robot")
    parser.add_argument("--randomization", default=None, metavar="NAME",
                        help="domain randomization resampled every episode (e.g. default): more varied demonstrations")
    parser.add_argument("--action-noise", type=number(0.0, 1.0), default=0.0, metavar="STD",
                        help="DART: the robot executes each command plus Gaussian noise of this std (action units, "
                        "[-1, 1] = the actuator's range); the bag's commands stay the expert's clean actions, the "
                        "states show its recoveries (behaviour cloning: 0.2; default 0)")


def run(args: argparse.Namespace) -> int:
    from robot_rl.imitation.record import record_demonstrations

    s = record_demonstrations(args.policy, args.out, args.episodes, robot=args.robot, engine=args.engine,
                              seed=args.seed, params=args.params,
                              randomization=args.randomization, action_noise=args.action_noise)
    print(f"recorded {s['episodes']} episodes to {args.out}: expert return {s['mean_return']:.1f} +- "
          f"{s['std_return']:.1f}, success {s['success_rate']}")
    return 0
