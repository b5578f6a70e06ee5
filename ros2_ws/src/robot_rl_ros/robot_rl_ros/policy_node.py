"""``ros2 run robot_rl_ros policy_node --ros-args -p policy:=<folder> -p robot:=cartpole``

A policy on a ros2_control robot: /joint_states in, the forward command controller's topic out,
behind the SafetyFilter. All behaviour lives in the one control node,
`robot_rl.deploy.control_node.ControlNode` (a `PolicyNode` is that node with a policy source,
shared with `robot-rl deploy`); this file reads ROS parameters -- one per field of
`PolicyNodeConfig`, the dataclass `robot-rl deploy` derives its flags from, ``record`` included --
and adds the lifecycle requests as std_srvs/Trigger services next to the ~/transition topic:

  ros2 service call /policy_node/activate std_srvs/srv/Trigger
"""

from __future__ import annotations

import sys

from robot_rl.deploy.control_node import ControlNode, open_recorder
from robot_rl.deploy.policy_node import PolicyNode, PolicyNodeConfig
from robot_rl.deploy.rclpy_transport import RclpyTransport
from robot_rl_ros.params import load_config, param


def add_trigger_services(transport: RclpyTransport, node: ControlNode) -> None:
    from std_srvs.srv import Trigger

    for name in ("activate", "deactivate", "reset"):

        def handle(request, response, name=name):
            answer = node.request(name)
            response.success = answer.startswith("ok")
            response.message = answer
            return response

        transport.node.create_service(Trigger, f"~/{name}", handle)


def main(args: list[str] | None = None) -> int:
    import signal

    transport = RclpyTransport("policy_node", args=sys.argv if args is None else args)
    ros_node = transport.node
    recorder = node = None
    # Every way out sends the safe action and the final state first (ControlNode.stop): why we stop.
    why = {"reason": "the executor stopped"}

    def on_sigterm(*_: object) -> None:  # launch sends SIGINT, then SIGTERM
        why["reason"] = "SIGTERM"
        transport.shutdown()

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        use_sim_time = bool(ros_node.get_parameter("use_sim_time").value)
        param(ros_node, "follow_episodes", use_sim_time)  # a simulator's episodes, by default on sim time
        config = load_config(ros_node, PolicyNodeConfig, required=("policy", "robot"), node_name=ros_node.get_name())
        recorder = open_recorder(config)
        node = PolicyNode(transport, config, recorder)
        add_trigger_services(transport, node)
        if node.config_error:
            # Exit non-zero (as `robot-rl deploy` does) so launch or systemd sees the failure; the node
            # has published its 'unconfigured' state and diagnostics once and sent no command.
            ros_node.get_logger().error(f"configuration error, exiting: {node.config_error}")
            return 1
        transport.spin()
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
