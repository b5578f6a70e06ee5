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


def test_smoothness_pairs_consecutive_steps_of_one_episode_only():
    """PPO's temporal smoothness term (PPOConfig.smoothness_coef) compares the actor's mean at step t and
    t+1 of the same env, never across an episode's end or the rollout's edge: the loss it reports equals
    the mean squared change over exactly those pairs."""
    import torch

    from robot_rl.algos.ppo import PPO, PPOConfig

    venv = make_vec_env("CartpoleBalance-v0", 3, seed=0)
    cfg = PPOConfig(num_envs=3, num_steps=5, num_minibatches=1, update_epochs=1, hidden=(8,), smoothness_coef=1.0)
    algo = PPO(venv, cfg, total_steps=1000, seed=0)
    with torch.no_grad():
        algo.model.actor[-1].weight.mul_(100.0)  # a fresh actor's mean hardly moves (gain 0.01): make it
    algo.collect()
    s = algo.storage
    s.dones.zero_()
    s.dones[1, 0] = 1.0  # env 0's episode ended at step 1: (1, 2) is no pair for it
    with torch.no_grad():
        mean = algo.model.actor(algo.model.actor_normalizer(s.obs))  # (T, N, act)
        change = (mean[1:] - mean[:-1]).square().sum(-1)  # (T - 1, N)
        expected = change[s.dones[:-1] == 0].mean().item()
    metrics = algo.update()
    assert metrics["loss/smoothness"] == pytest.approx(expected, rel=1e-5)
    naive = change.mean().item()  # what pairing across the episode's end would give
    assert abs(naive - expected) > 0.01 * expected
    algo.close()


# -- the shipped Panda reach policy ----------------------------------------------------------------------

def _card() -> dict:
    if not (PANDA / "policy.json").is_file():
        pytest.fail(f"{PANDA} is not shipped: train and export it (docs/training.md, 'Reach from scratch')")
    return json.loads((PANDA / "policy.json").read_text())


def test_card_validates_and_says_how_it_was_trained():
    from robot_rl.runtime.card import check_onnx_file, read_card

    card, card_path, onnx_path = read_card(PANDA)  # every field typed and in range
    check_onnx_file(card, card_path, onnx_path)  # the ONNX file is the one the card describes
    assert card["task"] == "Reach-v0" and card["robot"]["name"] == "panda"
    training = card["training"]
    # Trained the task's own way: no --preset, no --set; its run recorded the preset it got.
    args = _train_args(training["command"])
    assert (args.task, args.robot, args.preset, args.set, args.algo) == ("Reach", "panda", None, [], None)
    assert training["run_config"]["preset"] == "reach" and training["run_config"]["randomize"] == "default"
    # Issue 22's targets, as the card's 50-episode evaluations measured them.
    results = card["evaluation"]["results"]
    assert results["mujoco"]["success_rate"] >= 0.95 and results["pybullet"]["success_rate"] >= 0.95
    assert results["mujoco_dr_safety_filter"]["success_rate"] >= 0.9
    for key in ("robustness", "robustness_mujoco"):
        cases = card["evaluation"][key]["cases"]
        assert len(cases) >= 7 and min(c["success_rate"] for c in cases.values()) >= 0.9, key


def test_policy_reaches_in_both_engines(capsys):
    """The ONNX policy through the runtime (`robot-rl eval POLICY_DIR`), a few gap-class episodes each."""
    for engine in ("mujoco", "pybullet"):
        assert main(["eval", str(PANDA), "--engine", engine, "--episodes", "3", "--seed", "70", "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["success_rate"] >= 2 / 3, (engine, result)


def test_policy_reaches_behind_the_safety_filter():
    """As a robot runs it: Controller (observation, ONNX, default SafetyFilter with its start-up ramp)
    reading the simulated Panda's joints under the gap-class DR, its filtered command driving it."""
    from robot_rl.runtime import Controller, SafetyState

    successes = []
    for seed in (80, 81):
        ctl = Controller(PANDA)
        env = make_env("Reach-v0", robot="panda", engine="mujoco", randomization="default")
        sim = env.unwrapped
        env.reset(seed=seed)
        assert ctl.activate(0.0, sim.engine.joint_state()[0]) is SafetyState.ACTIVE
        t, done, info = 0.0, False, {}
        while not done:
            q, qd = sim.engine.joint_state()
            out = ctl.step(t, t, q, qd, sim.command)
            assert out.state is SafetyState.ACTIVE, out.fault_reason
            _, _, terminated, truncated, info = env.step(ctl.runner.interface.command_to_action(out.values))
            done, t = terminated or truncated, t + ctl.robot.control_dt
        successes.append(bool(info["success"]))
        env.close()
    assert all(successes), successes  # the card: 1.00 behind the filter over 50 episodes
