"""A policy against the simulated robot, all on sim time, optionally recording the run.

  ros2 launch robot_rl_ros sim.launch.py policy:=/abs/path/policies/cartpole_swingup \
      engine:=pybullet params:=/abs/path/gap.yaml record:=/tmp/sim_bag

The sim robot plays the real robot (same topics as ros2_control), its params file carries the
reality gap; the policy node follows its episodes (ramps in again at each reset).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    config = PathJoinSubstitution([FindPackageShare("robot_rl_ros"), "config"])
    args = [
        DeclareLaunchArgument("policy", description="policy folder (policy.onnx + policy.json)"),
        DeclareLaunchArgument("robot", default_value="cartpole"),
        DeclareLaunchArgument("engine", default_value="pybullet"),
        DeclareLaunchArgument("params", default_value="", description="sim params file (reality gap), or empty"),
        DeclareLaunchArgument("record", default_value="", description="rosbag2 folder to write, or empty"),
    ]
    sim_params = {"robot": LaunchConfiguration("robot"), "engine": LaunchConfiguration("engine")}
    sim_robot = Node(
        package="robot_rl_ros",
        executable="sim_robot_node",
        name="sim_robot",
        output="screen",
        parameters=[
            PathJoinSubstitution([config, "sim_robot.yaml"]),
            sim_params,
            {"params": LaunchConfiguration("params")},
        ],
    )
    policy_node = Node(
        package="robot_rl_ros",
        executable="policy_node",
        name="policy_node",
        output="screen",
        parameters=[
            PathJoinSubstitution([config, "policy_node.yaml"]),
            {
                "policy": LaunchConfiguration("policy"),
                "robot": LaunchConfiguration("robot"),
                "activate": True,
                "follow_episodes": True,
                "use_sim_time": True,
            },
        ],
    )
    recorder = Node(
        package="robot_rl_ros",
        executable="recorder",
        name="recorder",
        output="screen",
        parameters=[{"out": LaunchConfiguration("record"), "use_sim_time": True}],
        condition=IfCondition(PythonExpression(["'", LaunchConfiguration("record"), "' != ''"])),
    )
    return LaunchDescription([*args, sim_robot, policy_node, recorder])
