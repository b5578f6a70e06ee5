"""Run a policy on a ros2_control robot.

  ros2 launch robot_rl_ros policy.launch.py policy:=/abs/path/policies/cartpole_swingup robot:=cartpole

Starts the policy node inactive (activate with `ros2 service call /policy_node/activate
std_srvs/srv/Trigger`) unless activate:=true; record:=/path/bag also writes a rosbag2 of the run.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    args = [
        DeclareLaunchArgument("policy", description="policy folder (policy.onnx + policy.json)"),
        DeclareLaunchArgument("robot", default_value="cartpole"),
        DeclareLaunchArgument("activate", default_value="false"),
        DeclareLaunchArgument("record", default_value="", description="rosbag2 folder to write, or empty"),
        DeclareLaunchArgument(
            "config",
            default_value=PathJoinSubstitution([FindPackageShare("robot_rl_ros"), "config", "policy_node.yaml"]),
        ),
    ]
    policy_node = Node(
        package="robot_rl_ros",
        executable="policy_node",
        name="policy_node",
        output="screen",
        parameters=[
            LaunchConfiguration("config"),
            {
                "policy": LaunchConfiguration("policy"),
                "robot": LaunchConfiguration("robot"),
                "activate": LaunchConfiguration("activate"),
                "record": LaunchConfiguration("record"),
            },
        ],
    )
    return LaunchDescription([*args, policy_node])
