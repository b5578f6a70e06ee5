"""Bare DDS echo: answer every JointState with a Float64MultiArray, computing nothing.

The floor under the policy node's latency: the same message types, the same transport and
the same two processes as the node benchmark, with no policy, observation or safety filter.
Whatever the node adds above the echo's round trip is our code's cost.

Run as a process: ``python -m robot_rl.deploy.echo --state /echo/state --command /echo/command``.
With ``--policy DIR --robot NAME`` the same process (and DDS participant) also runs an active
policy node on the usual topics, so the benchmark compares node and echo between the very same
two processes.
"""

from __future__ import annotations

import argparse
import sys

from robot_rl.deploy.ros2_msgs import Float64MultiArray, JointState
from robot_rl.deploy.stop_signals import handle_stop_signals
from robot_rl.deploy.transport import Transport, make_transport


def serve_echo(transport: Transport, state_topic: str, command_topic: str) -> None:
    """Wire the echo: each state in -> one command out holding the state's positions."""
    publisher = transport.publisher(command_topic, Float64MultiArray)

    def on_state(msg: JointState) -> None:
        publisher.publish(Float64MultiArray(data=list(msg.position)))

    transport.subscribe(state_topic, JointState, on_state)


def card_robot(policy: str) -> str:
    """The robot a policy folder's card names (the runtime still checks the card against it in full)."""
    from robot_rl.runtime.card import read_card

    return str(read_card(policy)[0]["robot"]["name"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", default="/echo/state", help="JointState topic to answer")
    parser.add_argument("--command", default="/echo/command", help="Float64MultiArray topic to answer on")
    parser.add_argument("--transport", default="dds", choices=("dds", "rclpy"))
    parser.add_argument("--duration", type=float, default=None, help="exit after this many seconds")
    parser.add_argument("--policy", default=None, help="also run an active policy node with this policy folder")
    parser.add_argument("--robot", default=None,
                        help="robot of the policy node: a shipped robot's name or a robot.yaml path (default: the "
                        "robot its policy's card names)")
    args = parser.parse_args(argv)
    transport = make_transport(args.transport, "robot_rl_echo")
    handle_stop_signals(transport.shutdown)  # SIGINT too, even when a shell's `&` left it ignored
    try:
        serve_echo(transport, args.state, args.command)
        if args.policy:
            from robot_rl.deploy.policy_node import PolicyNode, PolicyNodeConfig

            # The driver plays a simulator faster than real time (states stamped a 50 Hz period apart,
            # sent at up to 500 Hz): sim time, as `--sim` runs it; a robot's node would fault on them.
            from robot_rl.errors import RobotRLError

            try:
                robot = args.robot or card_robot(args.policy)
            except RobotRLError as exc:  # no card, or not one this runtime reads: one line, as the node's own
                print(exc, file=sys.stderr)
                return 1
            node = PolicyNode(transport, PolicyNodeConfig(policy=args.policy, robot=robot, activate=True,
                                                          follow_episodes=True))
            if node.config_error:
                print(node.config_error, file=sys.stderr)
                return 1
        print("ready", flush=True)
        transport.spin(timeout_s=args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
