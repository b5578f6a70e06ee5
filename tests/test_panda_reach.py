"""Reach from scratch: the task's own training settings, and the Panda reach policy trained with them.

Why these tests: `robot-rl train --task Reach --robot R` must train the fast way without a preset or a
--set (issue 23: a task carries its own settings), while the commands on the shipped iiwa, A1 and
cart-pole cards keep training as they did; the PPO actor starts at the action that holds the arm at
its home pose, which is what made the reach learnable in minutes. The shipped policy
(policies/panda_reach) must keep its contract: the card validates, its ONNX runs behind the runtime and
the SafetyFilter, and a few episodes in each engine succeed (its card holds the 50-episode figures).
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import yaml

from robot_rl.cli import main
from robot_rl.commands import train as train_command
from robot_rl.envs import hold_action, make_env, make_vec_env
from robot_rl.training.presets import PRESETS, task_preset

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "policies"
PANDA = POLICIES / "panda_reach"
TINY = ["--set", "num_envs=2", "--set", "num_steps=16", "--set", "num_minibatches=2", "--set", "update_epochs=1",
        "--set", "hidden=[8]", "--eval-every", "0", "--eval-episodes", "1", "--no-progress"]  # fmt: skip


# -- the task's own settings ----------------------------------------------------------------------------

def test_reach_trains_with_its_own_settings_unless_told_otherwise():
    assert task_preset("Reach-v0", None) == task_preset("robot_rl/Reach-v0", "ppo") == "reach"
    assert task_preset("Reach-v0", "sac") is None  # another algorithm: its own defaults
    assert task_preset("IiwaReach-v0", None) is None  # an alias is not its task by kind (the iiwa card)
    assert task_preset("CartpoleSwingup-v0", None) is None
    reach = PRESETS["reach"]
    assert reach.algo == "ppo" and reach.settings["init_action"] == "hold" and reach.steps >= 1


def test_cli_records_the_tasks_preset_and_preset_none_drops_it(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--task", "Reach", "--robot", "panda", "--steps", "32", *TINY, "--out", str(run)]) == 0
    assert "Reach-v0 trains with its own settings, preset 'reach'" in capsys.readouterr().err
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["preset"] == "reach" and config["algo"] == "ppo"
    settings = config["algo_config"]
    assert settings["init_action"] == "hold" and settings["gamma"] == PRESETS["reach"].settings["gamma"]
    assert settings["num_envs"] == 2 and settings["hidden"] == [8]  # --set still wins
    plain = tmp_path / "plain"
    argv = ["train", "--task", "Reach", "--robot", "panda", "--preset", "none", "--steps", "32", *TINY]
    assert main([*argv, "--out", str(plain)]) == 0
    assert "own settings" not in capsys.readouterr().err
    config = yaml.safe_load((plain / "config.yaml").read_text())
    assert config["preset"] is None and config["algo_config"]["init_action"] == "zero"


def _train_args(command: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    return parser.parse_args(shlex.split(command)[2:])  # drop "robot-rl train"


def test_the_shipped_cards_commands_get_the_preset_their_runs_recorded():
    """A task's own preset must not change what a shipped card's training command trains: run today, the
    command gets exactly the preset (or none) its run recorded."""
    cards = sorted(POLICIES.glob("*/policy.json"))
    assert len(cards) >= 3
    for path in cards:
        training = json.loads(path.read_text())["training"]
        args = _train_args(training["command"])
        if args.resume is not None or args.task is None:
            continue
        preset, _ = train_command._preset(args, args.task)
        assert preset == training["run_config"].get("preset"), path


@pytest.mark.parametrize("robot", ["iiwa", "panda"])
def test_the_hold_action_holds_the_arm_at_home(robot):
    """PPO with init_action 'hold' starts at the action whose targets are the home pose: its first
    deterministic actions keep the end effector near where the episode started (gravity sag aside)."""
    from robot_rl.algos.ppo import PPO, PPOConfig

    venv = make_vec_env("Reach-v0", 2, seed=0, robot=robot, randomization=None)
    home = np.asarray(venv.logic.home)
    hold = hold_action(venv)
    np.testing.assert_allclose(venv.interface.action_offset + venv.interface.action_scale * hold, home, atol=1e-6)
    hold_ppo = PPO(venv, PPOConfig(num_envs=2, hidden=(16, 16), init_action="hold"), total_steps=1000, seed=0)
    first = hold_ppo.act(hold_ppo.collector.obs)
    assert np.abs(first - hold).max() < 0.05  # the weights are small; the bias is the hold action
    zero_ppo = PPO(venv, PPOConfig(num_envs=2, hidden=(16, 16)), total_steps=1000, seed=0)
    assert np.abs(zero_ppo.act(zero_ppo.collector.obs)).max() < 0.05
    drift = {}
    for name, algo in (("hold", hold_ppo), ("zero", zero_ppo)):
        env = make_env("Reach-v0", robot=robot, randomization=None)
        obs, _ = env.reset(seed=3)
        logic = env.unwrapped.logic
        for _ in range(50):
            obs, *_ = env.step(algo.act(obs[None])[0])
        q = env.unwrapped.engine.joint_state()[0]
        drift[name] = float(np.linalg.norm(logic.ee_positions(q[None])[0] - logic.ee_positions(home[None])[0]))
        env.close()
    # Held at home but for the PD servos' gravity sag (the iiwa's: 12 cm at the hand; no gravity
    # compensation), where the zero action takes the arm to the middle of its joint ranges.
    assert drift["hold"] < 0.15 and drift["zero"] > 2 * drift["hold"] + 0.05, drift
    hold_ppo.close()
