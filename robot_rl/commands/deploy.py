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

Examples:
  robot-rl deploy --policy policies/cartpole_swingup --robot cartpole
  robot-rl deploy --policy policies/cartpole_swingup --robot cartpole --activate --record runs/bag1
  robot-rl sim-robot --robot cartpole &   robot-rl deploy ... --sim --activate   # against a simulator
"""

from __future__ import annotations

import argparse

from robot_rl.deploy.recorder import DEFAULT_COMMAND_TOPIC

NAME = "deploy"
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
    parser.add_argument("--activate", action="store_true", help="activate as soon as a valid state arrives")
    parser.add_argument(
        "--sim",
        action="store_true",
        help="the robot is a simulator: use /clock (use_sim_time) and ramp in again at each "
        "episode it announces instead of staying in a fault",
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
    parser.add_argument(
        "--watchdog",
        type=float,
        default=None,
        metavar="S",
        help="fault when no state arrives for S seconds (default: 5 control periods)",
    )
    parser.add_argument("--ramp-time", type=float, default=0.5, metavar="S", help="start-up ramp (default 0.5 s)")
    parser.add_argument(
        "--record",
        metavar="BAG",
        default=None,
        help="record the states stepped and commands sent to a new rosbag2 folder, timestamped in robot "
        "time (for calibration)",
    )
    parser.add_argument("--duration", type=float, default=None, metavar="S", help="stop after S seconds")


def run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import sys

    from robot_rl.deploy.policy_node import PolicyNode, PolicyNodeConfig
    from robot_rl.deploy.recorder import BagRecorder
    from robot_rl.deploy.ros2_msgs import Float64MultiArray, JointState
    from robot_rl.deploy.transport import make_transport

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
    )
    recorder = None
    if args.record:
        recorder = BagRecorder(args.record, {args.state_topic: JointState, args.command_topic: Float64MultiArray})
    transport = make_transport(args.transport, args.node_name, use_sim_time=args.sim)
    signal.signal(signal.SIGTERM, lambda *_: transport.shutdown())
    try:
        node = PolicyNode(transport, config, recorder)
        if node.config_error:
            print(
                f"robot-rl deploy: error: {node.config_error}\n  {args.node_name} stays unconfigured and "
                "refuses activation (diagnostics on /diagnostics); Ctrl-C to quit",
                file=sys.stderr,
                flush=True,
            )
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
