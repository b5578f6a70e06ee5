"""The policy's limits are part of its contract (robot_rl/runtime/limits_contract.py).

The shipped policies (cart-pole swing-up: a force actuator; iiwa reach: seven PD position
actuators) are driven on robot.yaml variants whose limits are tighter or wider than the card's.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from robot_rl.errors import PolicyContractError
from robot_rl.runtime import Controller, SafetyState
from robot_rl.runtime.limits_contract import WIDER_MARGIN
from sim.robot import load_robot

ROOT = Path(__file__).resolve().parents[1]
CARTPOLE_POLICY = ROOT / "policies" / "cartpole_swingup"
IIWA_POLICY = ROOT / "policies" / "iiwa_reach"
CARTPOLE_YAML = Path(load_robot("cartpole").yaml_path)
IIWA_YAML = Path(load_robot("iiwa").yaml_path)


def cartpole_variant(tmp_path: Path, old: str, new: str) -> Path:
    text = CARTPOLE_YAML.read_text().replace("urdf: robot.urdf", f"urdf: {CARTPOLE_YAML.parent / 'robot.urdf'}")
    assert old in text
    path = tmp_path / "robot.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def iiwa_variant(tmp_path: Path, joint: int, extra: str) -> Path:
    old = f"  - {{name: lbr_iiwa_joint_{joint}, type: revolute}}"
    text = IIWA_YAML.read_text()
    assert old in text
    path = tmp_path / "robot.yaml"
    path.write_text(text.replace(old, f"  - {{name: lbr_iiwa_joint_{joint}, type: revolute, {extra}}}"))
    return path


def test_same_limits_agree_and_drive_with_them() -> None:
    ctl = Controller(CARTPOLE_POLICY, "cartpole")
    assert ctl.limits.uses == () and ctl.limits.summary() == "card and robot.yaml agree"
    assert ctl.safety.robot.joints == ctl.robot.joints


def test_tighter_robot_limits_are_driven_with_and_reported(tmp_path: Path) -> None:
    robot = cartpole_variant(
        tmp_path,
        "    position_limits: [-0.8, 0.8]   # metres of rail travel\n    velocity_limit: 5.0",
        "    position_limits: [-0.6, 0.6]\n    velocity_limit: 4.0",
    )
    ctl = Controller(CARTPOLE_POLICY, robot)
    summary = ctl.limits.summary()
    assert "joint 'slider' velocity_limit 4 m/s from the robot.yaml (card: 5)" in summary
    assert "joint 'slider' position_limits upper 0.6 m from the robot.yaml (card: 0.8)" in summary
    f = ctl.safety
    assert f.activate(0.0, [0.0, math.pi]) is SafetyState.ACTIVE
    assert f.step(0.0, 0.0, [0.0, math.pi], [4.2, 0.0], [10.0]).values[0] == 0.0  # past 4 m/s: no push
    out = f.step(0.02, 0.02, [0.0, math.pi], [3.0, 0.0], [10.0])
    assert out.values[0] == pytest.approx(10.0 * 0.02 / 0.5)  # still ramping in, not removed
    # a reading of 0.75 m is inside the card's rail but not the robot's (0.6 + 0.1 reading margin)
    g = Controller(CARTPOLE_POLICY, robot).safety
    g.step(0.0, 0.0, [0.75, 0.0], [0.0, 0.0], [0.0])
    assert g.fault_reason.startswith("sensor fault (range): position of joint 'slider' reads 0.75 m")


def test_tighter_position_limits_keep_the_policys_action_mapping(tmp_path: Path) -> None:
    """The iiwa's action scaling comes from its position limits: a narrowed joint keeps the card's
    mapping (what the policy means by +-1) and the filter clips targets into the narrower range."""
    robot = iiwa_variant(tmp_path, 1, "position_limits: [-2.0, 2.0]")
    ctl = Controller(IIWA_POLICY, robot)
    card = ctl.runner.card["action"]
    np.testing.assert_allclose(ctl.runner.interface.action_scale, card["scale"])
    np.testing.assert_allclose(ctl.runner.interface.action_offset, card["offset"])
    assert ctl.limits.robot.joints[0].position_limits == (-2.0, 2.0)
    f = ctl.safety
    q = np.zeros(7)
    q[0] = 1.9
    assert f.activate(0.0, q) is SafetyState.ACTIVE
    cmd = np.zeros(7)
    cmd[0] = 2.9  # inside the card's range, outside the robot's
    for k in range(10):
        out = f.step(k * 0.02, k * 0.02, q, np.zeros(7), cmd)
    assert out.values[0] == pytest.approx(2.0 - 0.02 * 4.0)  # upper - 2% of the robot's range


def test_a_wider_robot_is_refused_naming_the_joint_field_and_flag(tmp_path: Path) -> None:
    robot = cartpole_variant(tmp_path, "    effort_limit: 20.0\n", "    effort_limit: 25.0\n")
    with pytest.raises(PolicyContractError) as err:
        Controller(CARTPOLE_POLICY, robot)
    message = str(err.value)
    assert "\n" not in message
    assert "gives actuator 'slider' effort_limit 25 N, wider than the 20 N the policy was trained with" in message
    assert "'robot.actuators[0].effort_limit' in policy.json" in message
    assert message.endswith("correct robot.yaml, or pass --allow-wider-limits to drive with the policy's limits")


def test_a_wider_robot_with_the_flag_drives_with_the_cards_limits(tmp_path: Path) -> None:
    robot = cartpole_variant(tmp_path, "    effort_limit: 20.0\n", "    effort_limit: 25.0\n")
    ctl = Controller(CARTPOLE_POLICY, robot, allow_wider_limits=True, safety_options={"ramp_time": 0.0})
    assert ctl.robot.actuators[0].effort_limit == 25.0  # robot.yaml as written
    assert ctl.limits.robot.actuators[0].effort_limit == 20.0  # ... driven with the card's
    summary = ctl.limits.summary()
    assert "actuator 'slider' effort_limit 20 N from the card (robot.yaml: 25)" in summary
    assert summary.endswith("(robot.yaml wider, accepted by --allow-wider-limits)")
    f = ctl.safety
    assert f.activate(0.0, [0.0, math.pi]) is SafetyState.ACTIVE
    assert f.step(0.0, 0.0, [0.0, math.pi], [0.0, 0.0], [25.0]).values[0] == pytest.approx(20.0)


def test_wider_within_the_margin_is_accepted_with_the_cards_limit(tmp_path: Path) -> None:
    within = 20.0 * (1 + WIDER_MARGIN / 2)
    robot = cartpole_variant(tmp_path, "    effort_limit: 20.0\n", f"    effort_limit: {within}\n")
    ctl = Controller(CARTPOLE_POLICY, robot)
    assert ctl.limits.robot.actuators[0].effort_limit == 20.0 and ctl.limits.allowed_wider == ()


def test_a_wider_velocity_limit_on_the_arm_is_refused(tmp_path: Path) -> None:
    robot = iiwa_variant(tmp_path, 3, "velocity_limit: 12.0")
    with pytest.raises(PolicyContractError, match="gives joint 'lbr_iiwa_joint_3' velocity_limit 12 rad/s, wider"):
        Controller(IIWA_POLICY, robot)
    ctl = Controller(IIWA_POLICY, robot, allow_wider_limits=True)
    assert ctl.safety.config.max_change[2] == pytest.approx(10.0 * 0.02)  # the card's 10 rad/s


def test_unlimited_robot_joint_against_a_limited_card_is_wider() -> None:
    import dataclasses

    from robot_rl.runtime.card import read_card
    from robot_rl.runtime.limits_contract import compare_limits

    robot = load_robot("cartpole")
    rail_off = dataclasses.replace(robot, joints=(dataclasses.replace(robot.joints[0], position_limits=None),
                                                  robot.joints[1]))
    card = read_card(CARTPOLE_POLICY)[0]
    with pytest.raises(PolicyContractError, match="'slider' position_limits lower unlimited m, wider than the -0.8"):
        compare_limits(card, rail_off, "p")
    allowed = compare_limits(card, rail_off, "p", allow_wider=True)
    assert allowed.robot.joints[0].position_limits == (-0.8, 0.8)


def test_a_limited_robot_joint_against_an_unlimited_card_is_tighter(tmp_path: Path) -> None:
    robot = cartpole_variant(
        tmp_path, "    type: continuous\n", "    type: continuous\n    position_limits: [-4.0, 4.0]\n"
    )
    ctl = Controller(CARTPOLE_POLICY, robot)
    assert ctl.limits.robot.joints[1].position_limits == (-4.0, 4.0)
    assert "joint 'hinge' position_limits lower -4 rad from the robot.yaml (card: unlimited)" in ctl.limits.summary()


def test_position_ranges_that_do_not_overlap_are_refused_even_with_the_flag(tmp_path: Path) -> None:
    robot = iiwa_variant(tmp_path, 2, "position_limits: [2.5, 3.0]")
    # The reach block's home must lie within the joint's limits (load_robot checks it): move it along.
    robot.write_text(robot.read_text().replace("lbr_iiwa_joint_2: 0.6", "lbr_iiwa_joint_2: 2.7", 1))
    with pytest.raises(PolicyContractError, match="position limits of joint 'lbr_iiwa_joint_2' .* do not overlap"):
        Controller(IIWA_POLICY, robot, allow_wider_limits=True)


def test_a_malformed_card_limit_is_a_one_line_error(tmp_path: Path) -> None:
    import json
    import shutil

    folder = tmp_path / "p"
    shutil.copytree(CARTPOLE_POLICY, folder)
    card = json.loads((folder / "policy.json").read_text())
    card["robot"]["joints"][0]["velocity_limit"] = "fast"
    (folder / "policy.json").write_text(json.dumps(card))
    with pytest.raises(PolicyContractError, match=r"field 'robot.joints\[0\].velocity_limit' is 'fast'; expected"):
        Controller(folder, "cartpole")


def test_deploy_refuses_a_wider_robot_in_one_line_and_takes_the_flag(tmp_path: Path) -> None:
    import subprocess
    import sys

    from robot_rl.deploy import procs

    robot = cartpole_variant(tmp_path, "    velocity_limit: 5.0 ", "    velocity_limit: 8.0 ")
    env = procs.dds_env(procs.pick_domain_id())
    args = [sys.executable, "-m", "robot_rl.cli", "deploy", "--policy", str(CARTPOLE_POLICY), "--robot", str(robot),
            "--transport", "dds", "--duration", "0.2"]
    refused = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert "joint 'slider' velocity_limit 8 m/s, wider than the 5 m/s" in lines[0]
    assert "--allow-wider-limits" in lines[0]
    allowed = subprocess.run([*args, "--allow-wider-limits"], env=env, capture_output=True, text=True, timeout=60)
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    assert "limits: tighter of card and robot.yaml: joint 'slider' velocity_limit 5 m/s from the card" in (
        allowed.stderr
    )
