"""`robot-rl export` and `robot-rl policies` end to end, on a run trained for a few thousand steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from robot_rl.cli import main
from robot_rl.runtime import PolicyRunner, load_policy_folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "swingup"
    argv = ["train", "--task", "CartpoleSwingup-v0", "--algo", "ppo", "--steps", "2048", "--num-envs", "4"]
    assert main([*argv, "--eval-every", "0", "--no-progress", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("policies") / "swingup"
    assert main(["export", str(run_dir), "--out", str(out), "--eval-episodes", "1", "--eval-seed", "5"]) == 0
    return out


def test_export_writes_a_checked_policy_folder(exported, run_dir):
    card = json.loads((exported / "policy.json").read_text())
    assert card["name"] == "swingup" and card["task"] == "CartpoleSwingup-v0"
    run_config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert card["training"]["command"] == run_config["command"]  # whatever the trainer recorded
    assert card["training"]["seed"] == 0 and card["training"]["global_step"] >= 2048
    assert card["export"]["command"] == (
        f"robot-rl export {run_dir} --out {exported} --checkpoint last --eval-episodes 1 --eval-seed 5"
    )
    assert card["reproduce"] == [card["training"]["command"], card["export"]["command"]]
    evaluation = card["evaluation"]
    assert evaluation["episodes"] == 1 and evaluation["randomization"] == "default"
    conditions = {"mujoco", "mujoco_dr", "pybullet", "pybullet_dr", "mujoco_dr_safety_filter"}
    assert set(evaluation["results"]) == conditions
    for result in evaluation["results"].values():
        assert result["episodes"] == 1 and isinstance(result["mean_return"], float)
    deployed = evaluation["results"]["mujoco_dr_safety_filter"]
    assert deployed["fault_episodes"] == 0 and 0.0 < deployed["filtered_step_fraction"] <= 1.0  # the ramp filters
    PolicyRunner(exported)  # the runtime accepts what export wrote
    assert load_policy_folder(exported).card == card


def test_export_with_no_evaluation(run_dir, tmp_path):
    assert main(["export", str(run_dir), "--out", str(tmp_path / "p"), "--eval-episodes", "0"]) == 0
    assert json.loads((tmp_path / "p" / "policy.json").read_text())["evaluation"] is None


def test_export_of_a_missing_run_is_one_clear_line(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nope"), "--out", str(tmp_path / "p")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("robot-rl export: error:") and "\n" not in err


def test_policies_lists_name_task_robot_and_eval(exported, capsys):
    assert main(["policies", str(exported.parent), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert (row["name"], row["task"], row["robot"], row["algo"], row["file"]) == (
        "swingup",
        "CartpoleSwingup-v0",
        "cartpole",
        "ppo",
        "ok",
    )
    assert set(row["eval"]) == {"mujoco", "mujoco_dr", "pybullet", "pybullet_dr", "mujoco_dr_safety_filter"}
    assert main(["policies", str(exported.parent)]) == 0
    table = capsys.readouterr().out
    assert "swingup" in table and "CartpoleSwingup-v0" in table


def test_policies_flags_a_modified_onnx_file(exported, tmp_path, capsys):
    import shutil

    folder = tmp_path / "all" / "tampered"
    shutil.copytree(exported, folder)
    (folder / "policy.onnx").write_bytes((folder / "policy.onnx").read_bytes() + b"\0")
    assert main(["policies", str(folder.parent), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert "SHA-256" in row["error"]


def test_shipped_policies_are_listed_and_intact(capsys):
    shipped = Path(__file__).resolve().parents[1] / "policies"
    assert main(["policies", str(shipped), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert all(row.get("file") == "ok" for row in rows), rows
    assert {row["task"] for row in rows} >= {"CartpoleSwingup-v0", "IiwaReach-v0"}
    for row in rows:
        PolicyRunner(row["folder"])  # each one still matches its robot's description
