"""Robot descriptions load, and malformed ones fail naming the file, the field and what is expected."""

from pathlib import Path

import pytest
import yaml

from sim.errors import ConfigError
from sim.robot import available_robots, load_robot

CARTPOLE = Path(__file__).resolve().parents[1] / "sim" / "robots" / "cartpole"


def test_shipped_robots_are_listed_and_load():
    assert {"cartpole", "iiwa"} <= set(available_robots())
    cart = load_robot("cartpole")
    assert cart.joint_names == ("slider", "hinge")
    assert cart.joint("slider").position_limits == (-0.8, 0.8)
    assert cart.joint("hinge").position_limits is None
    assert cart.actuators[0].type == "force" and cart.actuators[0].effort_limit == 20.0
    assert cart.substeps == 4  # 5 ms physics at 50 Hz
    iiwa = load_robot("iiwa")
    assert len(iiwa.joints) == 7
    # limits come from the URDF shipped in the pybullet package
    assert iiwa.joint("lbr_iiwa_joint_1").effort_limit == 300.0
    assert iiwa.joint("lbr_iiwa_joint_2").position_limits == pytest.approx((-2.0944, 2.0944), abs=1e-4)
    assert "pybullet_data" in str(iiwa.urdf_path)
    assert all(a.type == "position" for a in iiwa.actuators)


def test_vocabulary_covers_links_joints_actuators():
    names = set(load_robot("cartpole").nominal)
    assert {"cart.mass", "pole.mass", "slider.damping", "hinge.damping", "slider.frictionloss",
            "hinge.armature", "slider.gain", "action_delay", "obs_noise"} <= names
    iiwa = load_robot("iiwa").nominal
    assert iiwa["lbr_iiwa_joint_1.kp"] > 0 and "lbr_iiwa_joint_7.kd" in iiwa


def _write(tmp_path, mutate):
    data = yaml.safe_load((CARTPOLE / "robot.yaml").read_text())
    data["urdf"] = str(CARTPOLE / "robot.urdf")
    mutate(data)
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("mutate, field, expected", [
    (lambda d: d.pop("control_hz"), "control_hz", "missing"),
    (lambda d: d.update(control_hz="fast"), "control_hz", "expected a rate"),
    (lambda d: d.update(physics_dt=0.003), "physics_dt", "whole number"),
    (lambda d: d["joints"][0].update(name="rail_joint"), "joints[0].name", "not in robot.urdf"),
    (lambda d: d["joints"][0].update(position_limits=[1, -1]), "joints[0].position_limits", "lower < upper"),
    (lambda d: d["actuators"][0].update(type="hydraulic"), "actuators[0].type", "force, position"),
    (lambda d: d["actuators"][0].update(joint="elbow"), "actuators[0].joint", "slider, hinge"),
    (lambda d: d["nominal"].update({"pole.weight": 1.0}), "nominal.pole.weight", "valid names"),
])
def test_malformed_robot_yaml_names_file_field_and_expectation(tmp_path, mutate, field, expected):
    path = _write(tmp_path, mutate)
    with pytest.raises(ConfigError) as err:
        load_robot(path)
    message = str(err.value)
    assert str(path) in message and f"'{field}'" in message and expected in message


def test_unknown_robot_lists_available():
    with pytest.raises(ConfigError, match="available robots: a1, cartpole"):
        load_robot("atlas")


def test_invalid_yaml_is_reported(tmp_path):
    path = tmp_path / "robot.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_robot(path)
