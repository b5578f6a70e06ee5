"""``ros2 run robot_rl_ros sim_robot_node --ros-args -p robot:=cartpole -p engine:=pybullet``

A MuJoCo or PyBullet robot behind the interface of a ros2_control robot: publishes /joint_states
and /clock (sim time), applies Float64MultiArray commands from the forward command controller
topic. Parameters are the fields of `robot_rl.deploy.sim_robot_node.SimRobotConfig` (params file,
randomization, episodes, lockstep, ...). With ``episodes`` set it logs the evaluation summary
(mean_return, std_return, success_rate, episodes) as JSON and exits.
"""

from __future__ import annotations

import json
import sys

from robot_rl.deploy.rclpy_transport import RclpyTransport
from robot_rl.deploy.sim_robot_node import SimRobot, SimRobotConfig, summarize
from robot_rl_ros.params import load_config


def main(args: list[str] | None = None) -> int:
    transport = RclpyTransport("sim_robot", args=sys.argv if args is None else args)
    ros_node = transport.node
    sim_robot = None
    try:
        config = load_config(ros_node, SimRobotConfig, node_name=ros_node.get_name())
        if config.episodes is not None and config.episodes <= 0:
            config.episodes = None  # ROS parameters cannot be None: 0 means "run until stopped"
        sim_robot = SimRobot(transport, config)
        transport.spin_in_background()
        results = sim_robot.run()
        if config.episodes:
            summary = json.dumps(summarize(results, config, sim_robot.task))
            ros_node.get_logger().info(f"evaluation: {summary}")
            print(summary, flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        if sim_robot is not None:
            sim_robot.stop()
            sim_robot.close()
        transport.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
