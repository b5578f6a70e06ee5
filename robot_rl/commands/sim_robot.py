"""A simulated robot with the interface of a ros2_control robot, to test a deployment before the real one.

Publishes /joint_states (sensor_msgs/JointState) and /clock (sim time), and applies the
std_msgs/Float64MultiArray commands of a forward command controller topic, over Cyclone DDS
(no ROS needed) or rclpy. The physics is one of our task envs in MuJoCo or PyBullet, so a
params file (--params) and domain randomization (--randomization) give it a reality gap.

With --episodes N it runs N episodes of the task (resetting between them; each reset is
announced in the JointState header frame_id as robot_rl/episode/<n>) and with --json prints the
same summary as `robot-rl eval --json` (mean_return, std_return, min/max_return, mean_length,
success_rate, episodes, returns; episode i seeded with seed + i in both), through the whole
deploy chain instead of in-process.

A legged robot (--robot a1) also publishes its IMU (sensor_msgs/Imu on /imu/data) and, as its
operator, each episode's velocity command (geometry_msgs/Twist on /cmd_vel).

The joints are read as a real robot's are (robot_rl.deploy.sensor_model): 14-bit encoders on
revolute joints and 10 um on prismatic ones, with jitter, drive velocities with noise, and a MEMS
IMU's noise; --ideal-sensors publishes the simulator's exact values instead. The --json summary's
"sensors" says which.

Ctrl-C (SIGINT, also when started in the background with `&`) or SIGTERM stops it: it stops
publishing, closes the transport and exits 0.

Examples:
  robot-rl sim-robot --robot cartpole --engine pybullet
  robot-rl sim-robot --robot a1 --engine pybullet --episodes 3 --lockstep --json
  robot-rl sim-robot --robot a1 --engine pybullet --terrain rough:amplitude=0.03 --episodes 3 --lockstep --json
  robot-rl sim-robot --robot cartpole --engine pybullet --params gap.yaml --episodes 5 --json
  robot-rl sim-robot --robot iiwa --engine mujoco --motor-model default --episodes 20 --lockstep --json
  (in another shell)  robot-rl deploy --policy policies/cartpole_swingup --robot cartpole --sim --activate
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from robot_rl.commands._args import number, positive_int, seed_int
from robot_rl.commands._terrain_arg import add_terrain_argument
from robot_rl.deploy.recorder import DEFAULT_COMMAND_TOPIC

NAME = "sim-robot"
HELP = "simulated robot with the ros2_control interface (joint states, commands, /clock) over DDS or rclpy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--robot", default=None,
                        help="a shipped robot's name (`robot-rl robots`) or a robot.yaml path (default: the robot "
                        "an alias --task names, e.g. the cart-pole for CartpoleSwingup-v0)")
    parser.add_argument("--engine", default="pybullet", choices=("pybullet", "mujoco"))
    parser.add_argument(
        "--task",
        default=None,
        help="task whose episodes to run (default: the robot's: the swing-up for a cart-pole, Reach for an arm, "
        "Walk for a legged robot; an alias such as IiwaReach-v0 where one names the robot)",
    )
    parser.add_argument(
        "--params",
        default=None,
        metavar="FILE",
        help="physical parameters to play a real robot (absolute values or {scale: s})",
    )
    parser.add_argument(
        "--randomization",
        default=None,
        metavar="NAME",
        help="domain randomization config resampled every episode (e.g. default)",
    )
    add_terrain_argument(parser, "; the robot starts on it as named (no curriculum); the policy never sees it")
    parser.add_argument(
        "--motor-model", default=None, metavar="FILE|default",
        help="motors the PD servo cannot express: a torque-speed envelope, a current lag and backlash "
        "(sim/motor_model.py: 'default' or a YAML file of their constants); needs --engine mujoco",
    )
    parser.add_argument(
        "--seed", type=seed_int, default=0, help="seed of episode 0 (episode k uses seed + k)"
    )
    parser.add_argument("--episodes", type=positive_int, default=None, metavar="N", help="run N episodes, then exit")
    parser.add_argument(
        "--episode-steps", type=positive_int, default=None, metavar="N",
        help="cut each episode after N control steps (a quick check; success then needs the task's full length)",
    )
    parser.add_argument("--json", action="store_true", help="print the evaluation summary as JSON at the end")
    parser.add_argument(
        "--lockstep",
        action="store_true",
        help="step when the command answering each state arrives (deterministic, faster than "
        "real time) instead of on the wall clock",
    )
    parser.add_argument(
        "--continuous",
        action="store_true",
        help="never end an episode at the task's time limit (only when the task terminates): for an "
        "identification run or any command source that is not the task's policy",
    )
    parser.add_argument(
        "--realtime-factor", type=number(0.0, min_open=True), default=1.0, help="wall-clock speed-up, > 0 (default 1)"
    )
    parser.add_argument(
        "--action-noise", type=number(0.0, 1.0), default=0.0, metavar="STD",
        help="DART: the actuators execute each command plus Gaussian noise of this std in action units "
        "([-1, 1] = the actuator's range); commands (a recording's labels) stay clean (default 0)",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="start the first episode at once instead of holding until a controller answers",
    )
    parser.add_argument(
        "--ideal-sensors",
        action="store_true",
        help="publish the simulator's exact joint and IMU values, not encoder counts and sensor noise "
        "(a test of exact recovery; no real robot reads its joints this way)",
    )
    parser.add_argument("--transport", default="auto", choices=("auto", "dds", "rclpy"))
    parser.add_argument("--state-topic", default="/joint_states")
    parser.add_argument("--command-topic", default=DEFAULT_COMMAND_TOPIC)
    parser.add_argument("--goal-topic", default="/goal_point",
                        help="where each episode's goal is published, for tasks with one (the reach)")
    parser.add_argument("--imu-topic", default="/imu/data", help="legged robots: sensor_msgs/Imu out")
    parser.add_argument(
        "--cmd-vel-topic", default="/cmd_vel", help="legged robots: the episode's velocity command out (Twist)"
    )
    parser.add_argument("--node-name", default="sim_robot")


def run(args: argparse.Namespace, instrument: Callable[[Any], Callable[[list], dict]] | None = None) -> int:
    """Serve the sim robot until its episodes are done; with --json print the summary.

    `instrument(sim_robot)`, called before the episodes start, may wrap the robot's env to measure
    more than the task reports (robot_rl.demo.legged_sim_robot: falls and velocity tracking error); it
    returns a function of the finished episodes' results giving extra summary fields.
    """
    import json
    import logging
    import sys

    from robot_rl.deploy.sim_robot_node import SimRobot, SimRobotConfig, summarize
    from robot_rl.deploy.stop_signals import handle_stop_signals
    from robot_rl.deploy.transport import make_transport
    from robot_rl.errors import ConfigError

    if args.episodes is not None and args.episodes < 1:
        raise ConfigError("--episodes", "", f"got {args.episodes}; expected a positive number of episodes")
    if args.realtime_factor <= 0:
        raise ConfigError("--realtime-factor", "", f"got {args.realtime_factor}; expected a positive factor")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    config = SimRobotConfig(
        robot=args.robot,
        engine=args.engine,
        task=args.task,
        params=args.params,
        randomization=args.randomization,
        terrain=args.terrain,
        motor_model=args.motor_model,
        action_noise=args.action_noise,
        seed=args.seed,
        episodes=args.episodes,
        episode_steps=args.episode_steps,
        lockstep=args.lockstep,
        continuous=args.continuous,
        realtime_factor=args.realtime_factor,
        wait_for_controller=not args.no_wait,
        state_topic=args.state_topic,
        command_topic=args.command_topic,
        goal_topic=args.goal_topic,
        imu_topic=args.imu_topic,
        cmd_vel_topic=args.cmd_vel_topic,
        ideal_sensors=args.ideal_sensors,
        node_name=args.node_name,
    )
    transport = make_transport(args.transport, args.node_name)
    sim_robot, extra = None, None
    try:
        sim_robot = SimRobot(transport, config)
        if instrument is not None:
            extra = instrument(sim_robot)
        handle_stop_signals(sim_robot.stop)  # SIGINT too, even when a shell's `&` left it ignored
        transport.spin_in_background()
        print(
            f"{args.node_name}: {sim_robot.task} on '{sim_robot.robot.name}' in {args.engine}, "
            f"{'lockstep' if args.lockstep else f'real time x{args.realtime_factor:g}'}, "
            f"{'ideal sensors' if args.ideal_sensors else 'encoder and sensor noise'}; "
            f"states on {args.state_topic}, commands on {args.command_topic}",
            file=sys.stderr,
            flush=True,
        )
        results = sim_robot.run()
    except KeyboardInterrupt:
        results = []
    finally:
        if sim_robot is not None:
            sim_robot.close()
        transport.close()
    if args.json:
        summary = summarize(results, config, sim_robot.task if sim_robot else None,
                            sim_robot.describe_sensors() if sim_robot else None)
        summary.update(extra(results) if extra is not None else {})
        print(json.dumps(summary))
    return 0
