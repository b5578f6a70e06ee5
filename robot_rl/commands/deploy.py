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

Instead of a policy, --controller lqr|mpc --task T runs a model-based controller (robot_rl.control: an
LQR or a sampling MPC on the robot's MuJoCo model, calibrated with --model-params calib/params.yaml)
as the node's command source, behind the same filter. It needs the mujoco package on this machine.

Examples:
  robot-rl deploy --policy policies/cartpole_swingup --robot cartpole
  robot-rl deploy --controller lqr --task CartpoleBalance-v0 --robot cartpole --model-params calib/params.yaml
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
HELP = "run a policy (or an LQR/MPC) on a robot behind the safety filter, over ROS 2 (rclpy) or plain DDS"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # One flag per PolicyNodeConfig field (help, bounds and names live with the fields), plus what is
    # not the node's: the middleware and how long to run.
    add_config_arguments(parser, PolicyNodeConfig, first=("policy", "robot"))
    # The source is a policy folder or a model-based controller: --policy is required unless --controller.
    next(a for a in parser._actions if a.dest == "policy").required = False
    from robot_rl.control.cli_args import add_controller_arguments

    add_controller_arguments(parser, with_task=True)
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
    import sys

    from robot_rl.cli import one_line
    from robot_rl.deploy.control_node import open_recorder
    from robot_rl.deploy.policy_node import PolicyNode
    from robot_rl.deploy.stop_signals import handle_stop_signals
    from robot_rl.deploy.transport import make_transport

    config = config_from_args(PolicyNodeConfig, args)
    source = _preflight(config, args)  # a configuration error: exit 1 before any DDS/ROS traffic
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    recorder = open_recorder(config)
    transport = make_transport(args.transport, config.node_name, use_sim_time=config.follow_episodes)
    # Every way out sends the safe action and the final state first (ControlNode.stop): why we stop.
    why = {"reason": "--duration elapsed" if args.duration is not None else "transport stopped"}

    def on_sigterm() -> None:
        why["reason"] = "SIGTERM"
        transport.shutdown()

    # SIGINT too, even when inherited ignored (a shell's `&`): ros2 launch and Ctrl-C stop a node with it.
    handle_stop_signals(on_sigterm)
    node = None
    try:
        if source is None:
            node = PolicyNode(transport, config, recorder)
        else:  # a model-based controller: the same node and filter, another CommandSource
            from robot_rl.deploy.control_node import ControlNode
            from robot_rl.runtime.controller import Controller

            node = ControlNode(transport, config, lambda: Controller(source, safety_options=config.safety_options()),
                               recorder, kind="controller")
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
            what = (f"{node.controller.runner.task} policy" if source is None
                    else f"{source.kind} controller for {source.task} ({source.controller.describe()})")
            print(
                f"{config.node_name}: {what} on robot '{node.controller.robot.name}' "
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
        if source is not None:
            source.close()
            t = source.controller.timing_summary()
            mpc = (f"; MPC periods p50 {t['mpc_compute_p50_ms']:.2f} ms, p99 {t['mpc_compute_p99_ms']:.2f} ms"
                   if "mpc_compute_p99_ms" in t else "")
            print(f"{source.kind} compute per control period over {t['periods']} periods: p50 "
                  f"{t['compute_p50_ms']:.2f} ms, p99 {t['compute_p99_ms']:.2f} ms, max {t['compute_max_ms']:.2f} ms "
                  f"(period {t['control_period_ms']:g} ms){mpc}", file=sys.stderr)
        if recorder is not None:
            recorder.close()
            print(f"recorded {sum(recorder.counts.values())} messages to {config.record}", file=sys.stderr)
    return 0


def _preflight(config: PolicyNodeConfig, args: argparse.Namespace | None = None):
    """Build the policy behind its filter exactly as the node will (`policy_controller`), before any
    transport exists: a configuration error is then one line and exit code 1, with nothing sent on the wire.
    With --controller, design the model-based controller instead and return its `ControllerSource`
    (None for a policy).

    The node re-checks on its own (it is also built by the ROS launch file); errors only it detects
    still end this command with exit code 1 (see run()).
    """
    from robot_rl.errors import RobotRLError

    kind = getattr(args, "controller", None)
    if (config.policy is None) == (kind is None):
        raise RobotRLError("--policy and --controller are two command sources: give one, not both" if kind is not None
                           else "give the command source: --policy FOLDER, or --controller lqr|mpc with --task")
    source = None
    if kind is not None:
        if args.task is None:
            raise RobotRLError(f"--controller {kind} needs --task (the task it does, e.g. PoleBalance-v0 on a "
                               "cart-pole)")
        from robot_rl.control.cli_args import mpc_overrides
        from robot_rl.control.factory import check_supported
        from robot_rl.control.source import ControllerSource
        from sim.robot import load_robot

        check_supported(kind, args.task)  # before the robot's model is built
        robot = load_robot(config.robot)
        source = ControllerSource.build(kind, args.task, robot, args.model_params, mpc_overrides(args))
    else:
        from robot_rl.deploy.policy_node import policy_controller

        robot = policy_controller(config).robot
    if config.watchdog_timeout is not None:
        _check_watchdog(config.watchdog_timeout, robot, config.follow_episodes)
    return source


def _check_watchdog(watchdog: float, robot, simulator: bool) -> None:
    """A watchdog shorter than 2 control periods faults between two on-time states."""
    from robot_rl.errors import RobotRLError

    if watchdog < 2 * robot.control_dt:
        raise RobotRLError(
            f"{flag_of(PolicyNodeConfig, 'watchdog_timeout')} {watchdog:g} s is shorter than 2 control periods "
            f"of robot '{robot.name}' ({2 * robot.control_dt:g} s at {robot.control_hz:g} Hz): every state would "
            f"be late; give {2 * robot.control_dt:g} to {MAX_SIM_WATCHDOG_S if simulator else MAX_WATCHDOG_S:g} s"
        )
