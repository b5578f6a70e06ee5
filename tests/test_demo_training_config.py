"""`robot-rl demo --robot <arm>` trains Reach from scratch with the reach preset for a time budget (issue 23,
item 6); `--quick` still replays the shipped policy. No test here trains: the configuration chosen is checked
where the demo hands it to the training, and the run stops there.
"""

from __future__ import annotations

import pytest

import robot_rl.train
from robot_rl.demo import DemoConfig
from robot_rl.demo.facts import demo_spec
from robot_rl.demo.steps import training_config
from robot_rl.training.presets import PRESETS


class _Stop(Exception):
    """Raised by a stand-in to end the demo where the test has seen what it needs."""


@pytest.mark.parametrize(("robot", "task", "run_robot"), [("iiwa", "robot_rl/IiwaReach-v0", None),
                                                         ("panda", "robot_rl/Reach-v0", "panda")])
def test_an_arm_trains_reach_from_scratch_with_the_preset_for_three_minutes(robot, task, run_robot, tmp_path):
    config = training_config(DemoConfig(out=tmp_path, robot=robot), demo_spec(robot))
    assert config.env_id == task and config.robot == run_robot
    assert config.preset == "reach" and config.algo_settings() == PRESETS["reach"].settings
    assert config.time_budget_s == 180.0 and config.steps == 2_000_000  # the budget ends it; the steps cap it
    assert config.init_from is None and config.randomize == "default" and config.engine == "mujoco"
    # --steps alone: exactly those steps, no budget; --time-budget: that budget
    by_steps = training_config(DemoConfig(out=tmp_path, robot=robot, train_steps=50_000), demo_spec(robot))
    assert (by_steps.steps, by_steps.time_budget_s, by_steps.preset) == (50_000, None, "reach")
    by_time = training_config(DemoConfig(out=tmp_path, robot=robot, train_time_budget_s=60.0), demo_spec(robot))
    assert (by_time.steps, by_time.time_budget_s) == (2_000_000, 60.0)


def test_the_cartpole_demo_trains_as_before(tmp_path):
    config = training_config(DemoConfig(out=tmp_path), demo_spec("cartpole"))
    assert config.preset is None and config.time_budget_s is None and config.steps == 600_000
    assert config.algo_settings()["num_envs"] == 64


def test_the_demo_command_hands_the_training_its_config(tmp_path, monkeypatch):
    """`robot-rl demo --robot iiwa [--time-budget 90s]` reaches the training with the preset and the budget."""
    from robot_rl.cli import main

    seen = []

    def fake_train(config, run_dir, **kwargs):
        seen.append(config)
        raise _Stop

    monkeypatch.setattr(robot_rl.train, "train", fake_train)
    with pytest.raises(_Stop):
        main(["demo", "--robot", "iiwa", "--out", str(tmp_path / "a"), "--no-progress"])
    with pytest.raises(_Stop):
        main(["demo", "--robot", "iiwa", "--time-budget", "90s", "--out", str(tmp_path / "b"), "--no-progress"])
    assert [(c.preset, c.time_budget_s) for c in seen] == [("reach", 180.0), ("reach", 90.0)]


def test_quick_still_replays_the_shipped_policy(tmp_path, monkeypatch):
    import robot_rl.demo.fixed as fixed
    from robot_rl.cli import main

    def no_training(*args, **kwargs):
        raise AssertionError("--quick trained")

    used = []

    def fake_deploy(cfg, spec, policy_dir, *args, **kwargs):
        used.append(policy_dir)
        raise _Stop

    monkeypatch.setattr(robot_rl.train, "train", no_training)
    monkeypatch.setattr(fixed, "train_policy", no_training)
    monkeypatch.setattr(fixed, "deploy_episodes", fake_deploy)
    with pytest.raises(_Stop):
        main(["demo", "--robot", "iiwa", "--quick", "--out", str(tmp_path / "q"), "--no-progress"])
    assert used == [demo_spec("iiwa").policy] and used[0].name == "iiwa_reach"


def test_a_legged_demo_refuses_training_flags(tmp_path, capsys):
    from robot_rl.cli import main

    with pytest.raises(SystemExit, match="--time-budget"):
        main(["demo", "--robot", "a1", "--time-budget", "5m", "--out", str(tmp_path / "l")])
