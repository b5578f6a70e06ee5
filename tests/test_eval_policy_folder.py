"""`robot-rl eval` on an exported policy folder works exactly as on a run directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

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
