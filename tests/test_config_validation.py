"""Configuration files are validated completely: robot.yaml, params, randomization, policy.json, YAML numbers.

Every bad value is a one-line error naming the file, the field and what is expected; NaN and inf
never pass as a limit or a range; `1e6`, `1.0e6` and `-2.5E-3` are numbers in every YAML file the
project reads (PyYAML alone reads them as strings).
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from error_checks import assert_one_line

from robot_rl.cli import main
from robot_rl.errors import PolicyContractError
from robot_rl.runtime.card import read_card
from sim.errors import ConfigError
from sim.params import resolve_params
from sim.randomization import load_randomization
from sim.robot import load_robot
from sim.validation import load_yaml_text

REPO = Path(__file__).resolve().parents[1]
CARTPOLE_YAML = REPO / "sim" / "robots" / "cartpole" / "robot.yaml"
IIWA_YAML = REPO / "sim" / "robots" / "iiwa" / "robot.yaml"
SHIPPED_CARD = REPO / "policies" / "cartpole_swingup"


def variant(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    """A copy of a shipped robot.yaml with one text replacement, pointing at the original URDF."""
    text = source.read_text()
    assert old in text, old
    text = text.replace(old, new)
    if "urdf: robot.urdf" in text:
        text = text.replace("urdf: robot.urdf", f"urdf: {source.parent / 'robot.urdf'}")
    path = tmp_path / "robot.yaml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------- the YAML loader


@pytest.mark.parametrize(
    ("text", "value"),
    [("1e6", 1e6), ("1.0e6", 1e6), ("-2.5E-3", -2.5e-3), ("+3E2", 300.0), (".5e1", 5.0), ("1.0e+6", 1e6),
     ("0.002", 0.002), ("50", 50), (".inf", math.inf)],
)  # fmt: skip
def test_yaml_numbers_with_exponents_are_numbers(text, value):
    assert load_yaml_text(f"x: {text}")["x"] == value
    assert isinstance(load_yaml_text(f"x: {text}")["x"], type(value))


def test_yaml_strings_that_only_look_numeric_stay_strings():
    assert load_yaml_text("a: e6\nb: 1e\nc: v1.0e6\nd: '1e6'") == {"a": "e6", "b": "1e", "c": "v1.0e6", "d": "1e6"}


def test_yaml_repeated_key_and_syntax_errors_are_one_line():
    with pytest.raises(ConfigError) as exc:
        load_yaml_text("velocity_limit: 5\nvelocity_limit: 50\n", "r.yaml")
    assert_one_line(exc.value, "r.yaml", "line 2", "'velocity_limit' twice")
    with pytest.raises(ConfigError) as exc:
        load_yaml_text("joints: [1, 2\nname: x\n", "r.yaml")
    assert_one_line(exc.value, "r.yaml", "not valid YAML at line 2")


def test_every_yaml_read_goes_through_the_project_loader():
    """No module calls PyYAML's loaders directly (they read 1.0e6 as a string): sim/validation.py only."""
    offenders = []
    for path in [*REPO.glob("sim/**/*.py"), *REPO.glob("robot_rl/**/*.py"), *REPO.glob("calibration/**/*.py"),
                 *REPO.glob("ros2_ws/**/*.py")]:  # fmt: skip
        if path.name == "validation.py" and path.parent.name == "sim":
            continue
        if re.search(r"yaml\.(safe_load|load|full_load|unsafe_load)(_all)?\(", path.read_text()):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_exponent_numbers_load_in_robot_params_and_randomization_files(tmp_path):
    robot = load_robot(variant(tmp_path, IIWA_YAML, "kp: 300.0", "kp: 3e2"))
    assert robot.actuators[0].kp == 300.0
    params = tmp_path / "params.yaml"
    params.write_text("pole.mass: 2.5e-1\nhinge.damping: {scale: 1e0}\n")
    cartpole = load_robot("cartpole")
    values = resolve_params(cartpole, params)
    assert values["pole.mass"] == 0.25 and values["hinge.damping"] == cartpole.nominal["hinge.damping"]
    dr_file = tmp_path / "dr.yaml"
    dr_file.write_text("parameters:\n  action_delay: {uniform: [0, 2e-2]}\n")
    dr = load_randomization(cartpole, dr_file)
    assert dr.parameters[0].high == 0.02


# ------------------------------------------------------------------------------------------- robot.yaml

CARTPOLE_CASES = [
    ("velocity_limit: 5.0 ", "velocity_limit: .nan ", "joints[0].velocity_limit", "finite number > 0"),
    ("velocity_limit: 5.0 ", "velocity_limit: .inf ", "joints[0].velocity_limit", "finite number > 0"),
    ("velocity_limit: 5.0 ", "velocity_limit: -5.0 ", "joints[0].velocity_limit", "> 0 (m/s)"),
    ("velocity_limit: 5.0 ", "velocity_limit: 0 ", "joints[0].velocity_limit", "> 0"),
    ("effort_limit: 20.0             # N", "effort_limit: -20.0", "joints[0].effort_limit", ">= 0 (N)"),
    ("position_limits: [-0.8, 0.8]", "position_limits: [0.8, -0.8]", "joints[0].position_limits", "inverted"),
    ("position_limits: [-0.8, 0.8]", "position_limits: [-.inf, 0.8]", "joints[0].position_limits", "finite"),
    ("position_limits: [-0.8, 0.8]", "position_limits: [.nan, 0.8]", "joints[0].position_limits", "finite"),
    ("position_limits: [-0.8, 0.8]", "position_limits: [0.5, 0.5]", "joints[0].position_limits", "lower < upper"),
    ("control_hz: 50 ", "control_hz: .nan ", "control_hz", "finite number > 0"),
    ("control_hz: 50 ", "control_hz: -50 ", "control_hz", "> 0"),
    ("physics_dt: 0.005", "physics_dt: -0.005", "physics_dt", ">= 1e-05 and <= 0.1 (s)"),
    ("physics_dt: 0.005", "physics_dt: .inf", "physics_dt", "finite"),
    ("gain: 1.0", "gain: 0.0", "actuators[0].gain", "> 0"),
    ("gain: 1.0", "gain: .nan", "actuators[0].gain", "finite"),
    ("    effort_limit: 20.0\nnominal", "    effort_limit: .nan\nnominal", "actuators[0].effort_limit", "finite"),
    ("action_delay: 0.0 ", "action_delay: -0.01 ", "nominal.action_delay", ">= 0"),
    ("obs_noise: 0.0 ", "obs_noise: .nan ", "nominal.obs_noise", "finite"),
    ("  hinge.armature: 0.0", "  hinge.armature: 0.0\n  cart.mass: 0", "nominal.cart.mass", "> 0"),
    ("  hinge.armature: 0.0", "  hinge.armature: 0.0\n  pole.mass: -1", "nominal.pole.mass", "> 0"),
    ("contacts: false", "contacts: maybe", "contacts", "true or false"),
    ("    velocity_limit: 5.0 ", "    velocity_limit: 5.0\n    velocity_limit: 50.0\n   ", "", "twice"),
]


@pytest.mark.parametrize(("old", "new", "field", "expected"), CARTPOLE_CASES)
def test_bad_robot_yaml_values_are_one_line_errors(tmp_path, old, new, field, expected):
    path = variant(tmp_path, CARTPOLE_YAML, old, new)
    with pytest.raises(ConfigError) as exc:
        load_robot(path)
    assert_one_line(exc.value, str(path), expected, f"field '{field}'" if field else "")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [("kp: 300.0", "kp: -300", "actuators[0].kp"), ("kp: 300.0", "kp: .nan", "actuators[0].kp"),
     ("kd: 20", "kd: -1", "actuators[0].kd"), ("kd: 20", "kd: .inf", "actuators[0].kd")],
)  # fmt: skip
def test_bad_position_actuator_gains_are_refused(tmp_path, old, new, field):
    path = variant(tmp_path, IIWA_YAML, old, new)
    with pytest.raises(ConfigError) as exc:
        load_robot(path)
    assert_one_line(exc.value, str(path), f"field '{field}'", "finite number")


def test_a_nan_velocity_limit_is_a_cli_error_not_a_disabled_rule(tmp_path, capsys):
    path = variant(tmp_path, CARTPOLE_YAML, "velocity_limit: 5.0 ", "velocity_limit: .nan ")
    assert main(["robots", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("robot-rl robots: error:")
    assert "joints[0].velocity_limit" in err and "got nan" in err


# ------------------------------------------------------------------------------------------- params files


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [("pole.mass: .nan", "pole.mass", "finite"), ("pole.mass: .inf", "pole.mass", "finite"),
     ("pole.mass: 0", "pole.mass", "mass must be > 0"), ("hinge.damping: -0.1", "hinge.damping", ">= 0"),
     ("hinge.damping: {scale: .nan}", "hinge.damping.scale", "finite"),
     ("hinge.damping: {scale: -2}", "hinge.damping.scale", ">= 0"),
     ("action_delay: '20 ms'", "action_delay", "expected a number"),
     # unknown keys name the nearest valid one; unphysical values name their range (issue 20)
     ("pole.mas: 0.2", "pole.mas", "did you mean 'pole.mass'?"),
     ("hinge.damping: {scael: 1.2}", "hinge.damping.scael", "did you mean 'scale'?"),
     ("action_delay: 1e6", "action_delay", "<= 1 (s)"),
     ("obs_noise: 50", "obs_noise", "<= 10"),
     ("hinge.damping: {scale: 1e6}", "hinge.damping.scale", "<= 100"),
     ("action_delay: 1:30", "action_delay", "base-60")],
)  # fmt: skip
def test_bad_params_files_are_one_line_errors(tmp_path, text, field, expected):
    path = tmp_path / "params.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as exc:
        resolve_params(load_robot("cartpole"), path)
    assert_one_line(exc.value, str(path), f"field '{field}'", expected)


# ------------------------------------------------------------------------------------------- randomization


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [("parameters:\n  action_delay: {uniform: [0.2, 0.1]}", "parameters.action_delay.uniform", "inverted"),
     ("parameters:\n  action_delay: {uniform: [.nan, 0.1]}", "parameters.action_delay.uniform", "finite"),
     ("parameters:\n  action_delay: {uniform: [0, .inf]}", "parameters.action_delay.uniform", "finite"),
     ("parameters:\n  action_delay: {uniform: [-0.1, 0.1]}", "parameters.action_delay.uniform", "lower >= 0"),
     ("parameters:\n  hinge.damping: {log_uniform: [0, 1]}", "parameters.hinge.damping.log_uniform", "lower > 0"),
     ("parameters:\n  pole.mass: {scale_uniform: [0, 1.2]}", "parameters.pole.mass.scale_uniform", "lower > 0"),
     ("push:\n  probability: .nan", "push.probability", "finite"),
     ("push:\n  probability: 1.5", "push.probability", "<= 1"),
     ("initial_state:\n  position: [.inf, 0.1]", "initial_state.position", "finite"),
     ("push:\n  probability: 0.1\n  velocity: [0.1, -0.3]", "push.velocity", ">= 0"),
     ("parameter:\n  pole.mass: {scale_uniform: [0.9, 1.1]}", "parameter", "did you mean 'parameters'?"),
     ("push:\n  probabilty: 0.1", "push.probabilty", "did you mean 'probability'?"),
     ("initial_state:\n  postion: 0.1", "initial_state.postion", "did you mean 'position'?"),
     ("parameters:\n  pole.mass: {scale_unifrom: [0.9, 1.1]}", "parameters.pole.mass.scale_unifrom",
      "did you mean 'scale_uniform'?"),
     ("parameters:\n  pole.mas: {scale_uniform: [0.9, 1.1]}", "parameters.pole.mas", "did you mean 'pole.mass'?"),
     ("parameters:\n  action_delay: {uniform: [0, 1e6]}", "parameters.action_delay.uniform", "upper <= 1"),
     ("parameters:\n  obs_noise: {log_uniform: [1, 100]}", "parameters.obs_noise.log_uniform", "upper <= 10"),
     ("parameters:\n  pole.mass: {scale_uniform: [0.5, 1e4]}", "parameters.pole.mass.scale_uniform",
      "upper <= 100")],
)  # fmt: skip
def test_bad_randomization_files_are_one_line_errors(tmp_path, text, field, expected):
    path = tmp_path / "dr.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as exc:
        load_randomization(load_robot("cartpole"), path)
    assert_one_line(exc.value, str(path), f"field '{field}'", expected)


def test_shipped_robots_and_configs_pass_validation():
    for name in ("cartpole", "iiwa"):
        robot = load_robot(name)
        assert all(math.isfinite(v) and v >= 0 for v in robot.nominal.values())
        dr = load_randomization(robot, "default")
        assert all(np.isfinite([r.low, r.high]).all() and r.low <= r.high for r in dr.parameters)


# ------------------------------------------------------------------------------------------- policy.json schema


def card_copy(tmp_path: Path, edit) -> Path:
    folder = tmp_path / "policy"
    shutil.copytree(SHIPPED_CARD, folder)
    card = json.loads((folder / "policy.json").read_text())
    edit(card)
    (folder / "policy.json").write_text(json.dumps(card))  # json writes NaN/Infinity, as a tampered file could
    return folder


def _set(path: str, value):
    def edit(card):
        keys = re.findall(r"[^.\[\]]+", path)
        target = card
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        if value is _DELETE:
            del target[last]
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return edit


_DELETE = object()
CARD_CASES = [
    ("robot.joints.0.velocity_limit", math.nan, "robot.joints[0].velocity_limit", "finite number > 0"),
    ("robot.joints.0.velocity_limit", math.inf, "robot.joints[0].velocity_limit", "finite number > 0"),
    ("robot.joints.0.effort_limit", "20", "robot.joints[0].effort_limit", "a finite number >= 0"),
    ("robot.joints.0.position_limits", [0.8, -0.8], "robot.joints[0].position_limits", "lower < upper"),
    ("robot.joints.0.type", "hinge", "robot.joints[0].type", "one of 'prismatic'"),
    ("robot.actuators.0.gain", -1.0, "robot.actuators[0].gain", "> 0"),
    ("robot.control_hz", "50", "robot.control_hz", "a finite number > 0"),
    ("robot.joint_order", "slider,hinge", "robot.joint_order", "a non-empty list of a string"),
    ("robot", [], "robot", "an object with name"),
    ("observation.size", 6.5, "observation.size", "an integer >= 1"),
    ("observation.layout.0.size", 0, "observation.layout[0].size", "an integer >= 1"),
    ("action.scale.0", "20", "action.scale[0]", "a finite number"),
    ("action.offset", _DELETE, "action.offset", "missing"),
    ("onnx.opset", "18", "onnx.opset", "an integer >= 1"),
    ("onnx.sha256", "abc", "onnx.sha256", "64 lowercase hex digits"),
    ("onnx.file", "../../etc/passwd", "onnx.file", "a file name inside the policy folder"),
    ("training.global_step", "many", "training.global_step", "an integer >= 0"),
    ("evaluation.results.mujoco.success_rate", 3, "evaluation.results.mujoco.success_rate", "<= 1"),
    ("normalization.var.0", -1.0, "normalization.var[0]", ">= 0"),
]


@pytest.mark.parametrize(("path", "value", "field", "expected"), CARD_CASES)
def test_wrongly_typed_card_fields_are_one_line_errors(tmp_path, path, value, field, expected):
    folder = card_copy(tmp_path, _set(path, value))
    with pytest.raises(PolicyContractError) as exc:
        read_card(folder)
    assert_one_line(exc.value, str(folder / "policy.json"), f"field '{field}'", expected)


def test_a_bad_card_is_one_line_from_every_command(tmp_path, capsys):
    folder = card_copy(tmp_path, _set("robot.joints.0.velocity_limit", math.nan))
    assert main(["eval", str(folder), "--episodes", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "robot.joints[0].velocity_limit" in err and "Traceback" not in err
    assert main(["policies", str(tmp_path), "--json"]) == 0  # listed, with its error, not a traceback
    row = json.loads(capsys.readouterr().out)
    assert "robot.joints[0].velocity_limit" in row["error"]


def test_shipped_cards_pass_the_schema():
    for folder in (REPO / "policies").iterdir():
        if (folder / "policy.json").is_file():
            read_card(folder)
