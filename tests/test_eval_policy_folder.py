"""`robot-rl eval` on an exported policy folder works exactly as on a run directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from error_checks import policy_with_card

from robot_rl.cli import main

SHIPPED = Path(__file__).resolve().parents[1] / "policies" / "cartpole_swingup"


def test_eval_policy_folder_in_pybullet_with_params(tmp_path: Path, capsys: pytest.CaptureFixture):
    params = tmp_path / "gap.yaml"
    params.write_text("pole.mass: {scale: 1.2}\nslider.gain: 0.9\n")
    code = main(["eval", str(SHIPPED), "--engine", "pybullet", "--params", str(params), "--randomize", "none",
                 "--episodes", "2", "--seed", "3", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["episodes"] == 2 and result["policy"] == "onnx"
    assert result["engine"] == "pybullet" and result["params"] == str(params) and result["randomize"] is None
    assert result["success_rate"] == 1.0 and result["mean_return"] > 150


def test_eval_refuses_a_tampered_policy_folder(tmp_path: Path, capsys: pytest.CaptureFixture):
    folder = tmp_path / "tampered"
    shutil.copytree(SHIPPED, folder)
    onnx = folder / "policy.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-8] + b"\0" * 8)
    assert main(["eval", str(folder), "--episodes", "1"]) == 1
    err = capsys.readouterr().err
    assert "policy.onnx" in err and "sha-256" in err.lower()


def test_shipped_swingup_card_states_transfer_and_robustness():
    """The issue's target, as recorded by `robot-rl export` in the card: PyBullet under default DR, and
    realistic model errors (sim/robots/cartpole/robustness.yaml) one at a time and together."""
    card = json.loads((SHIPPED / "policy.json").read_text())
    assert card["evaluation"]["results"]["pybullet_dr"]["success_rate"] >= 0.9
    robustness = card["evaluation"]["robustness"]
    assert robustness["engine"] == "pybullet" and robustness["episodes"] >= 20
    cases = robustness["cases"]
    realistic = {"pole_mass_+30%", "cart_mass_+30%", "rail_friction_0.3N", "hinge_damping_x3", "motor_gain_-20%",
                 "command_delay_20ms", "all_at_once"}
    assert realistic <= set(cases)
    for name in realistic:
        assert cases[name]["success_rate"] >= 0.9, (name, cases[name])


def _card_copy(tmp_path: Path, edit) -> Path:
    return policy_with_card(SHIPPED, tmp_path / "edited", edit)


def _one_error_line(capsys: pytest.CaptureFixture) -> str:
    """The error: one line, the last one (a run's eval says first which checkpoint it loaded)."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("robot-rl eval: error:")]
    assert len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in err, err
    return errors[0]


@pytest.mark.parametrize(
    ("edit", "flags", "expected"),
    [(None, ["--task", "IiwaReach-v0"], "trained for robot 'cartpole', but is asked to drive robot 'iiwa'"),
     (None, ["--env-id", "Pendulum-v1"], "'Pendulum-v1' is not one"),
     (lambda c: c["robot"].update(joint_order=["hinge", "slider"]), [], "joint order differs at index 0"),
     (lambda c: c["action"].update(scale=[10.0]), [], "action scale of actuator 'slider' is 10 in the card but 20"),
     (lambda c: c["robot"].update(name="iiwa"), [], "robot 'iiwa', but is asked to drive robot 'cartpole'")],
)  # fmt: skip
def test_eval_checks_the_card_against_the_robot_as_deploy_does(tmp_path, capsys, edit, flags, expected):
    """The issue's probe: eval ignored the card's robot, joint order and action scale (deploy checked them)."""
    folder = SHIPPED if edit is None else _card_copy(tmp_path, edit)
    assert main(["eval", str(folder), "--episodes", "1", *flags]) == 1
    assert expected in _one_error_line(capsys)


def test_eval_of_a_run_on_another_robots_task_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture):
    """`eval --task IiwaReach-v0` on a cart-pole run died in numpy's broadcast; now one line."""
    run = tmp_path / "run"
    tiny = ["--set", "num_envs=2", "--set", "num_steps=16", "--set", "num_minibatches=2", "--set", "update_epochs=1",
            "--set", "hidden=[8]", "--eval-every", "0", "--eval-episodes", "1", "--no-progress"]  # fmt: skip
    assert main(["train", "--task", "CartpoleBalance-v0", "--steps", "32", *tiny, "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--task", "IiwaReach-v0", "--episodes", "1", "--json"]) == 1
    assert "task 'IiwaReach-v0' drives robot 'iiwa'" in _one_error_line(capsys)
    assert main(["eval", str(run), "--env-id", "Pendulum-v1", "--episodes", "1", "--json"]) == 1
    assert "maps 6 observations to 1 actions, but Pendulum-v1 has 3 observations" in _one_error_line(capsys)


@pytest.mark.parametrize(("gap", "end"), [(None, "time_limit"), ("action_delay: 0.06\n", "terminated")])
def test_eval_json_says_why_each_episode_ended(tmp_path: Path, capsys: pytest.CaptureFixture, gap, end):
    """`per_episode[i].end`: the shipped swing-up holds the pole for the task's full 250 steps (5 s at 50 Hz);
    60 ms of command delay (it is robust to 20 ms) makes it drive the cart into the rail's end, which ends
    the episode early: "terminated", not "time_limit", and no success."""
    flags = []
    if gap is not None:
        (tmp_path / "gap.yaml").write_text(gap)
        flags = ["--params", str(tmp_path / "gap.yaml")]
    assert main(["eval", str(SHIPPED), "--randomize", "none", "--episodes", "2", "--json", *flags]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    episodes = result["per_episode"]
    assert [e["return"] for e in episodes] == result["returns"] and len(episodes) == 2
    assert [e["end"] for e in episodes] == [end, end], episodes
    for e in episodes:  # the field agrees with the length against the task's limit, and with success
        assert (e["length"] == 250) == (e["end"] == "time_limit"), e
        assert e["success"] is (end == "time_limit"), e
