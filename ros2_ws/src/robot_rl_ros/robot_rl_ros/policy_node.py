"""``ros2 run robot_rl_ros policy_node --ros-args -p policy:=<folder> -p robot:=cartpole``

A policy on a ros2_control robot: /joint_states in, the forward command controller's topic out,
behind the SafetyFilter. All behaviour lives in `robot_rl.deploy.policy_node.PolicyNode` (shared
with `robot-rl deploy --transport dds`); this file reads ROS parameters and adds the lifecycle
requests as std_srvs/Trigger services next to the ~/transition topic:

  ros2 service call /policy_node/activate std_srvs/srv/Trigger
"""

from __future__ import annotations

import sys

from robot_rl.deploy.policy_node import PolicyNode, PolicyNodeConfig
from robot_rl.deploy.rclpy_transport import RclpyTransport
from robot_rl_ros.params import load_config, param


def add_trigger_services(transport: RclpyTransport, node: PolicyNode) -> None:
    from std_srvs.srv import Trigger

    for name in ("activate", "deactivate", "reset"):

        def handle(request, response, name=name):
            answer = node.request(name)
            response.success = answer.startswith("ok")
            response.message = answer
            return response

        transport.node.create_service(Trigger, f"~/{name}", handle)


def main(args: list[str] | None = None) -> int:
    transport = RclpyTransport("policy_node", args=sys.argv if args is None else args)
    ros_node = transport.node
    recorder = None
    try:
        use_sim_time = bool(ros_node.get_parameter("use_sim_time").value)
        param(ros_node, "follow_episodes", use_sim_time)  # a simulator's episodes, by default on sim time
        config = load_config(ros_node, PolicyNodeConfig, required=("policy", "robot"), node_name=ros_node.get_name())
        record = param(ros_node, "record", "")
        if record:
            from robot_rl.deploy.recorder import BagRecorder
            from robot_rl.deploy.ros2_msgs import Float64MultiArray, JointState

            recorder = BagRecorder(record, {config.state_topic: JointState, config.command_topic: Float64MultiArray})
        node = PolicyNode(transport, config, recorder)
        add_trigger_services(transport, node)
        if node.config_error:
            # Exit non-zero (as `robot-rl deploy` does) so launch or systemd sees the failure; the node
            # has published its 'unconfigured' state and diagnostics once and sent no command.
            ros_node.get_logger().error(f"configuration error, exiting: {node.config_error}")
            return 1
        transport.spin()
    except KeyboardInterrupt:
        pass
    finally:
        transport.close()
        if recorder is not None:
            recorder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
