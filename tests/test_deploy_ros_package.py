"""The ament_python package in ros2_ws/src/robot_rl_ros, checked without ROS.

colcon and rclpy are not installable here, so this pins what can break silently: the manifest,
the entry points and the modules they name, the launch files' syntax, the parameter files
(every key must be a field the node reads), and the ROS-parameter -> config conversion.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from robot_rl.deploy.errors import DeployError
from robot_rl.deploy.policy_node import PolicyNodeConfig
from robot_rl.deploy.sim_robot_node import SimRobotConfig

PKG = Path(__file__).resolve().parents[1] / "ros2_ws" / "src" / "robot_rl_ros"


@pytest.fixture(autouse=True)
def package_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(PKG))


def test_manifest_is_an_ament_python_package() -> None:
    root = ET.parse(PKG / "package.xml").getroot()
    assert root.get("format") == "3" and root.findtext("name") == "robot_rl_ros"
    assert root.find("export/build_type").text == "ament_python"
    deps = {e.text for e in root.findall("exec_depend")}
    assert {"rclpy", "std_msgs", "sensor_msgs", "diagnostic_msgs", "rosgraph_msgs", "std_srvs"} <= deps
    assert (PKG / "resource" / "robot_rl_ros").is_file()
    assert "install_scripts=$base/lib/robot_rl_ros" in (PKG / "setup.cfg").read_text()


def test_entry_points_name_importable_mains() -> None:
    tree = ast.parse((PKG / "setup.py").read_text())
    scripts = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and " = robot_rl_ros." in node.value
    ]
    assert {s.split(" = ")[0] for s in scripts} == {"policy_node", "sim_robot_node", "recorder"}
    for script in scripts:
        module_name, func = script.split(" = ")[1].split(":")
        module = importlib.import_module(module_name)
        assert callable(getattr(module, func)), script


def test_launch_files_parse_and_define_a_launch_description() -> None:
    launch_files = sorted((PKG / "launch").glob("*.launch.py"))
    assert [p.name for p in launch_files] == ["policy.launch.py", "sim.launch.py"]
    for path in launch_files:
        tree = ast.parse(path.read_text())
        assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)


@pytest.mark.parametrize(
    ("file", "node", "config_cls", "extra"),
    [
        ("policy_node.yaml", "policy_node", PolicyNodeConfig, {"record", "follow_episodes", "use_sim_time"}),
        ("sim_robot.yaml", "sim_robot", SimRobotConfig, set()),
    ],
)
def test_parameter_files_only_set_fields_the_node_reads(
    file: str, node: str, config_cls: type, extra: set[str]
) -> None:
    params = yaml.safe_load((PKG / "config" / file).read_text())[node]["ros__parameters"]
    fields = {f.name for f in dataclasses.fields(config_cls)}
    assert set(params) <= fields | extra, set(params) - fields - extra


def test_controller_config_commands_the_cartpole_actuator() -> None:
    config = yaml.safe_load((PKG / "config" / "cartpole_controllers.yaml").read_text())
    manager = config["controller_manager"]["ros__parameters"]
    assert manager["forward_command_controller"]["type"] == "forward_command_controller/ForwardCommandController"
    assert config["forward_command_controller"]["ros__parameters"] == {"joints": ["slider"], "interface_name": "effort"}


class FakeRosNode:
    """The three rclpy.Node parameter calls load_config uses."""

    def __init__(self, given: dict[str, Any]) -> None:
        self.params = dict(given)

    def get_name(self) -> str:
        return "policy_node"

    def has_parameter(self, name: str) -> bool:
        return name in self.params

    def declare_parameter(self, name: str, value: Any) -> None:
        assert name not in self.params, f"{name} declared twice (rclpy raises)"
        self.params[name] = value

    def get_parameter(self, name: str) -> Any:
        return type("P", (), {"value": self.params[name]})()


def test_ros_parameters_become_the_node_config() -> None:
    from robot_rl_ros.params import load_config

    node = FakeRosNode({"policy": "/p", "robot": "cartpole", "ramp_time": 1.0, "activate": True})
    config = load_config(node, PolicyNodeConfig, required=("policy", "robot"), node_name="policy_node")
    assert (config.policy, config.robot, config.ramp_time, config.activate) == ("/p", "cartpole", 1.0, True)
    assert config.watchdog_timeout is None and "state_topic" in node.params  # declared with its default
    with pytest.raises(DeployError, match="parameter 'policy' of node 'policy_node' is required"):
        load_config(FakeRosNode({}), PolicyNodeConfig, required=("policy", "robot"))
