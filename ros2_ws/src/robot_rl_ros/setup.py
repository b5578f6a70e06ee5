"""ament_python package: `ros2 run robot_rl_ros policy_node|sim_robot_node|recorder`."""

from glob import glob

from setuptools import find_packages, setup

package_name = "robot_rl_ros"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml", "README.md"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.py")),
        ("share/" + package_name + "/config", glob("config/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="robot-rl maintainers",
    maintainer_email="robot-rl@example.com",
    description="Policy node, simulated robot and rosbag2 recorder of robot-rl for ROS 2.",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "policy_node = robot_rl_ros.policy_node:main",
            "sim_robot_node = robot_rl_ros.sim_robot_node:main",
            "recorder = robot_rl_ros.recorder:main",
        ],
    },
)
