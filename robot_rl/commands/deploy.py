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

(activate | deactivate | reset); /<node>/state reports unconfigured | inactive | active | fault |
finalized, /diagnostics says why. Press the e-stop with std_msgs/Bool true on /estop. On a robot
(not --sim) the node activates only after hearing the e-stop released (false on /estop, latched or
sent after it started; --allow-unknown-estop: 1 s of silence will do). Ctrl-C, SIGTERM and
--duration leave the robot with the safe action (zero force, hold, or damping) and 'finalized'.

A legged robot's policy (e.g. policies/a1_walk) also reads sensor_msgs/Imu on /imu/data and the
velocity command as geometry_msgs/Twist on /cmd_vel (zero when silent for --cmd-vel-timeout);
after activation it first brings the joints to the default pose (--soft-start-speed), and a fall
(trunk tilt past --max-tilt) or any other fault puts the joints in damping mode.

The flags are the fields of the node's configuration (`robot_rl.deploy.control_config.
PolicyNodeConfig`), derived as the ROS package derives its parameters from it: `--state-topic` here
is ``-p state_topic:=...`` there. The same node runs an excitation for `robot-rl excite --publish`.

Examples:
  robot-rl deploy --policy policies/cartpole_swingup --robot cartpole
  robot-rl deploy --policy policies/a1_walk --robot a1 --activate     # + /imu/data, /cmd_vel
  robot-rl deploy --policy policies/cartpole_swingup --robot cartpole --activate --record runs/bag1
  robot-rl sim-robot --robot cartpole &   robot-rl deploy ... --sim --activate   # against a simulator
"""

from __future__ import annotations

import argparse

from robot_rl.commands._args import seconds
from robot_rl.commands._config_args import add_config_arguments, config_from_args, flag_of
from robot_rl.deploy.control_config import MAX_SIM_WATCHDOG_S, MAX_WATCHDOG_S, PolicyNodeConfig

NAME = "deploy"
HELP = "run a policy on a robot behind the safety filter, over ROS 2 (rclpy) or plain DDS"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # One flag per PolicyNodeConfig field (help, bounds and names live with the fields), plus what is
    # not the node's: the middleware and how long to run.
    add_config_arguments(parser, PolicyNodeConfig, first=("policy", "robot"))
    parser.add_argument(
        "--transport",
        default="auto",
        choices=("auto", "dds", "rclpy"),
        help="auto: rclpy when importable, else Cyclone DDS (default: auto)",
    )
    parser.add_argument(
        "--duration", type=seconds(0.0, min_open=True), default=None, metavar="S", help="stop after S seconds"
    )


def run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import sys

    from robot_rl.cli import one_line
    from robot_rl.deploy.control_node import open_recorder
    from robot_rl.deploy.policy_node import PolicyNode
    from robot_rl.deploy.transport import make_transport

    config = config_from_args(PolicyNodeConfig, args)
    _preflight(config)  # a configuration error: exit 1 before any DDS/ROS traffic
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    recorder = open_recorder(config)
    transport = make_transport(args.transport, config.node_name, use_sim_time=config.follow_episodes)
    # Every way out sends the safe action and the final state first (ControlNode.stop): why we stop.
    why = {"reason": "--duration elapsed" if args.duration is not None else "transport stopped"}

    def on_sigterm(*_: object) -> None:
        why["reason"] = "SIGTERM"
        transport.shutdown()

    signal.signal(signal.SIGTERM, on_sigterm)
    node = None
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
                if config.activate
                else (f"inactive: send 'activate' on /{config.node_name}/transition")
            )
            print(
                f"{config.node_name}: {node.controller.runner.task} policy on robot '{node.controller.robot.name}' "
                f"at {1.0 / node.period:g} Hz, {hint}",
                file=sys.stderr,
                flush=True,
            )
        transport.spin(timeout_s=args.duration)
    except KeyboardInterrupt:
        why["reason"] = "Ctrl-C (SIGINT)"
    except BaseException as exc:
        why["reason"] = f"error: {exc!r}"
        raise
    finally:
        if node is not None and not node.config_error:
            node.stop(why["reason"])
        transport.close()
        if recorder is not None:
            recorder.close()
            print(f"recorded {sum(recorder.counts.values())} messages to {config.record}", file=sys.stderr)
    return 0


def _preflight(config: PolicyNodeConfig) -> None:
    """Build the policy behind its filter exactly as the node will (`policy_controller`), before any
    transport exists: a configuration error is then one line and exit code 1, with nothing sent on the wire.

    The node re-checks on its own (it is also built by the ROS launch file); errors only it detects
    still end this command with exit code 1 (see run()).
    """
    from robot_rl.deploy.policy_node import policy_controller

    controller = policy_controller(config)
    if config.watchdog_timeout is not None:
        _check_watchdog(config.watchdog_timeout, controller.robot, config.follow_episodes)


def _check_watchdog(watchdog: float, robot, simulator: bool) -> None:
    """A watchdog shorter than 2 control periods faults between two on-time states."""
    from robot_rl.errors import RobotRLError

    if watchdog < 2 * robot.control_dt:
        raise RobotRLError(
            f"{flag_of(PolicyNodeConfig, 'watchdog_timeout')} {watchdog:g} s is shorter than 2 control periods "
            f"of robot '{robot.name}' ({2 * robot.control_dt:g} s at {robot.control_hz:g} Hz): every state would "
            f"be late; give {2 * robot.control_dt:g} to {MAX_SIM_WATCHDOG_S if simulator else MAX_WATCHDOG_S:g} s"
        )
