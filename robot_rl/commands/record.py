"""Record a robot's joint states and commands to a rosbag2 folder, for calibration or review.

Subscribes /joint_states (sensor_msgs/JointState) and the forward command controller topic
(std_msgs/Float64MultiArray) on the deploy transport (plain DDS by default: no ROS install needed;
`--transport rclpy` inside ROS 2) and writes every message, as it arrives, with the ROS 2 type
definitions embedded, so `ros2 bag info`, the `rosbags` package and `robot-rl sysid` all read it.
Stops on Ctrl-C (SIGINT, also when started in the background with `&`), SIGTERM or --duration,
always leaving a closed, readable bag. An existing --out is refused, --force or not: rosbag2 never
appends, and a bag is never overwritten.

Examples:
  robot-rl record --out runs/lab1.bag                         # while the robot runs
  robot-rl record --out runs/lab1.bag --duration 30
  robot-rl record --out runs/x.bag --topic /joint_states:sensor_msgs/msg/JointState
  robot-rl sysid --robot cartpole --log runs/lab1.bag --fit pole.mass,slider.gain --out calib/lab1
"""

from __future__ import annotations

import argparse

NAME = "record"
HELP = "record joint states and commands to a rosbag2 folder over DDS or ROS 2 (for sysid or review)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from robot_rl.deploy.recorder import add_recorder_arguments

    add_recorder_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from robot_rl.deploy.recorder import run_recorder

    return run_recorder(args)  # it checks --duration and --out before subscribing to anything
