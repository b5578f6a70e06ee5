"""Run an exported policy on a robot: joint states in, safe commands out, over ROS 2 or plain DDS.

The node subscribes /joint_states (sensor_msgs/JointState, any joint order), runs the policy at
its control rate behind the SafetyFilter (limits, watchdog, e-stop, ramp, latched faults) and
publishes std_msgs/Float64MultiArray to a ros2_control forward command controller. With
`--transport dds` (the default without ROS) it speaks the ROS 2 wire format over Cyclone DDS, so
it works with a ROS 2 robot on rmw_cyclonedds_cpp and needs no ROS install; with `rclpy` it is
an ordinary ROS 2 node.

It starts inactive (safe action out) unless --activate is given. Lifecycle requests go to
/<node>/transition as std_msgs/String:

  ros2 topic pub --once /policy_node/transition std_msgs/msg/String "{data: activate}"

(activate | deactivate | reset); /<node>/state reports unconfigured | inactive | active | fault,
/diagnostics says why. Press the e-stop with std_msgs/Bool true on /estop.

A legged robot's policy (e.g. policies/a1_walk) also reads sensor_msgs/Imu on /imu/data and the
velocity command as geometry_msgs/Twist on /cmd_vel (zero when silent for --cmd-vel-timeout);
after activation it first brings the joints to the default pose (--soft-start-speed), and a fall
(trunk tilt past --max-tilt) or any other fault puts the joints in damping mode.

Examples:
  robot-rl deploy --policy policies/cartpole_swingup --robot cartpole
  robot-rl deploy --policy policies/a1_walk --robot a1 --activate     # + /imu/data, /cmd_vel
  robot-rl deploy --policy policies/cartpole_swingup --robot cartpole --activate --record runs/bag1
  robot-rl sim-robot --robot cartpole &   robot-rl deploy ... --sim --activate   # against a simulator
"""

from __future__ import annotations

import argparse

from robot_rl.commands._args import number, seconds
from robot_rl.deploy.recorder import DEFAULT_COMMAND_TOPIC

NAME = "deploy"
# The watchdog must let a state arrive (at least 2 control periods, checked in run()) and must
# not let a robot run blind for long: above this a stopped state stream goes unnoticed too long.
MAX_WATCHDOG_S = 1.0
HELP = "run a policy on a robot behind the safety filter, over ROS 2 (rclpy) or plain DDS"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True, help="policy folder (policy.onnx + policy.json)")
    parser.add_argument("--robot", required=True, help="robot name (cartpole) or path to its robot.yaml")
    parser.add_argument(
        "--transport",
        default="auto",
        choices=("auto", "dds", "rclpy"),
        help="auto: rclpy when importable, else Cyclone DDS (default: auto)",
    )
    parser.add_argument(
        "--activate",
        action="store_true",
        help="activate as soon as a valid state arrives (a standing order; an 'activate' request on the "
        "transition topic expires after --activate-timeout instead)",
    )
    parser.add_argument(
        "--activate-timeout",
        type=seconds(0.0, 600.0, min_open=True),
        default=3.0,
        metavar="S",
        help="an activate request waiting for a valid state expires after S seconds, 0-600 (default 3)",
    )
    parser.add_argument(
        "--allow-wider-limits",
        action="store_true",
        help="drive a robot whose robot.yaml limits are wider than the policy card's (more than 1%%), "
        "with the card's limits; refused without this flag",
    )
    parser.add_argument(
        "--sim",
        action="store_true",
        help="the robot is a simulator: use /clock (use_sim_time) and ramp in again at each "
        "episode it announces instead of staying in an input fault (a watchdog, sensor, e-stop or "
        "second-publisher fault still needs a reset)",
    )
    parser.add_argument("--node-name", default="policy_node")
    parser.add_argument("--state-topic", default="/joint_states")
    parser.add_argument(
        "--command-topic",
        default=DEFAULT_COMMAND_TOPIC,
        help=f"forward command controller topic (default: {DEFAULT_COMMAND_TOPIC})",
    )
    parser.add_argument("--estop-topic", default="/estop")
    parser.add_argument("--goal-topic", default="/goal_point",
                        help="geometry_msgs/PointStamped goal, for policies whose task has one (the reach)")
    legged = parser.add_argument_group("legged robots (policies that read an IMU)")
    legged.add_argument("--imu-topic", default="/imu/data", help="sensor_msgs/Imu of the trunk (default /imu/data)")
    legged.add_argument("--cmd-vel-topic", default="/cmd_vel", help="geometry_msgs/Twist velocity command")
    legged.add_argument(
        "--cmd-vel-timeout", type=seconds(0.0, 60.0, min_open=True), default=0.5, metavar="S",
        help="the velocity command falls back to zero (stand) after S s without a Twist (default 0.5)",
    )
    legged.add_argument(
        "--max-tilt", type=number(0.0, 180.0, min_open=True, what="an angle in degrees"), default=60.0,
        metavar="DEG", help="fall detector: trunk tilt from upright that faults to damping mode (default 60)",
    )
    legged.add_argument(
        "--soft-start-speed", type=number(0.0, 10.0, what="a speed in rad/s"), default=1.0, metavar="RAD_S",
        help="after activation, move the joints to the default pose at this speed before the policy runs; "
        "0: no soft start (default 1)",
    )
    parser.add_argument(
        "--watchdog",
        type=seconds(0.0, MAX_WATCHDOG_S, min_open=True),
        default=None,
        metavar="S",
        help=f"fault when no state arrives for S seconds: at least 2 control periods, at most {MAX_WATCHDOG_S:g} s "
        "(default: 5 control periods)",
    )
    parser.add_argument(
        "--ramp-time", type=seconds(0.0, 60.0), default=0.5, metavar="S", help="start-up ramp, 0-60 s (default 0.5 s)"
    )
    parser.add_argument(
        "--record",
        metavar="BAG",
        default=None,
        help="record the states stepped and commands sent to a new rosbag2 folder, timestamped in robot "
        "time (for calibration)",
    )
    parser.add_argument(
        "--duration", type=seconds(0.0, min_open=True), default=None, metavar="S", help="stop after S seconds"
    )


def run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import sys

    from robot_rl.cli import one_line
    from robot_rl.deploy.policy_node import PolicyNode, PolicyNodeConfig
    from robot_rl.deploy.recorder import BagRecorder
    from robot_rl.deploy.ros2_msgs import Float64MultiArray, JointState
    from robot_rl.deploy.transport import make_transport

    _preflight(args)  # a configuration error: exit 1 before any DDS/ROS traffic
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    config = PolicyNodeConfig(
        policy=args.policy,
        robot=args.robot,
        node_name=args.node_name,
        state_topic=args.state_topic,
        command_topic=args.command_topic,
        estop_topic=args.estop_topic,
        goal_topic=args.goal_topic,
        activate=args.activate,
        follow_episodes=args.sim,
        watchdog_timeout=args.watchdog,
        ramp_time=args.ramp_time,
        imu_topic=args.imu_topic,
        cmd_vel_topic=args.cmd_vel_topic,
        cmd_vel_timeout=args.cmd_vel_timeout,
        max_tilt_deg=args.max_tilt,
        soft_start_speed=args.soft_start_speed,
        activate_timeout=args.activate_timeout,
        allow_wider_limits=args.allow_wider_limits,
    )
    recorder = None
    if args.record:
        recorder = BagRecorder(args.record, {args.state_topic: JointState, args.command_topic: Float64MultiArray})
    transport = make_transport(args.transport, args.node_name, use_sim_time=args.sim)
    signal.signal(signal.SIGTERM, lambda *_: transport.shutdown())
    try:
        node = PolicyNode(transport, config, recorder)
        if node.config_error:
            # Exit non-zero so a supervisor (systemd, launch, a script) sees the failure; the node has
            # published its 'unconfigured' state and diagnostics once, and sent no command.
            print(f"robot-rl deploy: error: {one_line(node.config_error)}", file=sys.stderr, flush=True)
            return 1
        else:
            hint = (
                "activates on the first valid state"
                if args.activate
                else (f"inactive: send 'activate' on /{args.node_name}/transition")
            )
            print(
                f"{args.node_name}: {node.controller.runner.task} policy on robot '{node.controller.robot.name}' "
                f"at {1.0 / node.period:g} Hz, {hint}",
                file=sys.stderr,
                flush=True,
            )
        transport.spin(timeout_s=args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        transport.close()
        if recorder is not None:
            recorder.close()
            print(f"recorded {sum(recorder.counts.values())} messages to {args.record}", file=sys.stderr)
    return 0


def _preflight(args: argparse.Namespace) -> None:
    """Load the robot, the safety configuration and the policy as the node will, before any transport
    exists: a configuration error is then one line and exit code 1, with nothing sent on the wire.

    The node re-checks on its own (it is also built by the ROS launch file); errors only it detects
    still end this command with exit code 1 (see run()).
    """
    from pathlib import Path

    from robot_rl.runtime import Controller
    from sim.robot import load_robot

    robot = load_robot(args.robot)
    if args.watchdog is not None:
        _check_watchdog(args.watchdog, robot)
    # As the node builds it: the filter's defaults derive from the limits contract's robot (the tighter
    # of the card's and robot.yaml's limits), and a wider robot.yaml needs --allow-wider-limits.
    Controller(
        Path(args.policy),
        robot,
        allow_wider_limits=args.allow_wider_limits,
        safety_options={"watchdog_timeout": args.watchdog, "ramp_time": args.ramp_time,
                        "max_tilt_deg": args.max_tilt, "soft_start_speed": args.soft_start_speed},
    )


def _check_watchdog(watchdog: float, robot) -> None:
    """A watchdog shorter than 2 control periods faults between two on-time states."""
    from robot_rl.errors import RobotRLError

    if watchdog < 2 * robot.control_dt:
        raise RobotRLError(
            f"--watchdog {watchdog:g} s is shorter than 2 control periods of robot '{robot.name}' "
            f"({2 * robot.control_dt:g} s at {robot.control_hz:g} Hz): every state would be late; give "
            f"{2 * robot.control_dt:g} to {MAX_WATCHDOG_S:g} s"
        )
