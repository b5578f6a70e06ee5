"""The training runner: run directory contents, resume, NaN stop, signal stop, load_policy, CLI."""

from __future__ import annotations

import csv
import json
import os
import signal

import pytest
import torch
import yaml

from robot_rl.cli import main as cli_main
from robot_rl.errors import CheckpointError
from robot_rl.train import (
    RunConfig,
    RunConfigError,
    Trainer,
    TrainingDivergedError,
    algo_config,
    load_policy,
    read_run_config,
    train,
)
from robot_rl.training.checkpoint import load_checkpoint
from robot_rl.training.evaluation import evaluate

TINY_PPO = {"num_envs": 4, "num_steps": 32, "num_minibatches": 2, "update_epochs": 2, "hidden": [16, 16]}


def _config(steps: int = 512, **algo_overrides) -> RunConfig:
    return RunConfig(
        env_id="robot_rl/CartpoleBalance-v0",
        algo="ppo",
        steps=steps,
        seed=3,
        engine="mujoco",
        randomize="default",
        eval_every=256,
        eval_episodes=1,
        checkpoint_every=256,
        algo_config={**TINY_PPO, **algo_overrides},
        command="robot-rl train --task CartpoleBalance-v0 (test)",
    )


def _csv_steps(run_dir) -> list[int]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [int(row["step"]) for row in csv.DictReader(f)]


def test_run_directory_describes_itself(tmp_path):
    run = tmp_path / "run"
    result = train(_config(), run, progress=False)
    assert result.status == "finished" and result.global_step == 512
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["command"] == "robot-rl train --task CartpoleBalance-v0 (test)"
    assert config["task"] == "CartpoleBalance-v0" and config["algo"] == "ppo"
    assert config["algo_config"]["num_steps"] == 32 and config["algo_config"]["gae_lambda"] == 0.95
    assert read_run_config(run).algo_config["hidden"] == [16, 16]
    assert _csv_steps(run)[:4] == [128, 256, 384, 512]
    with open(run / "metrics.csv", newline="") as f:
        header = next(csv.reader(f))
    assert {"loss/policy", "episode/return", "time/fps", "eval/mean_return"} <= set(header)
    assert any(p.name.startswith("events.out.tfevents") for p in (run / "tb").iterdir())
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["best.pt", "last.pt", "step_000000256.pt", "step_000000512.pt"]
    for name in names:
        torch.load(run / "checkpoints" / name, weights_only=True)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["final_eval"]["episodes"] == 1


def test_load_policy_gives_a_self_contained_actor(tmp_path):
    run = tmp_path / "run"
    train(_config(steps=256), run, progress=False)
    actor, meta = load_policy(run)
    assert meta["algo"] == "ppo" and meta["task"] == "CartpoleBalance-v0" and meta["engine"] == "mujoco"
    assert meta["obs_dim"] == 6 and meta["act_dim"] == 1 and meta["global_step"] == 256
    assert meta["command"].startswith("robot-rl train")
    obs = torch.randn(5, meta["obs_dim"]) * 10
    out = actor(obs)
    assert out.shape == (5, 1) and out.abs().max() <= 1.0
    # The normalization statistics are buffers of the module (what ONNX export will bake in).
    buffers = dict(actor.named_buffers())
    assert buffers["normalizer.count"].item() > 0
    # Same action as the live agent's deterministic act() on a fresh trainer resumed from it.
    trainer = Trainer(read_run_config(run), run, resume=True, progress=False)
    torch.testing.assert_close(out.numpy(), trainer.algo.act(obs.numpy()), rtol=0, atol=0, check_dtype=False)
    trainer.algo.collector.env.close()


def test_resume_restores_step_optimizer_and_normalizer_state(tmp_path):
    run = tmp_path / "run"
    train(_config(steps=256), run, progress=False)
    saved = load_checkpoint(run / "checkpoints" / "last.pt")
    trainer = Trainer(read_run_config(run), run, resume=True, progress=False)
    state = trainer.algo.state_dict()
    assert state["global_step"] == 256
    torch.testing.assert_close(state["model"], saved["state"]["model"], rtol=0, atol=0)
    assert state["optimizer"]["state"][0]["step"] == saved["state"]["optimizer"]["state"][0]["step"]
    torch.testing.assert_close(
        state["optimizer"]["state"][0]["exp_avg_sq"], saved["state"]["optimizer"]["state"][0]["exp_avg_sq"]
    )
    trainer.config.steps = 512
    result = trainer.run()
    assert result.global_step == 512
    assert _csv_steps(run) == [128, 256, 384, 512]  # the resumed rows continue, nothing repeated
    assert yaml.safe_load((run / "config.yaml").read_text())["resumes"][0]["at_step"] == 256


def test_resume_with_a_different_model_is_a_checkpoint_error(tmp_path):
    run = tmp_path / "run"
    train(_config(steps=128), run, progress=False)
    other = _config(steps=256, hidden=[8, 8])
    with pytest.raises(CheckpointError, match="does not match this run"):
        Trainer(other, run, resume=True, progress=False)


def test_starting_over_an_existing_run_is_refused(tmp_path):
    run = tmp_path / "run"
    train(_config(steps=128), run, progress=False)
    with pytest.raises(RunConfigError, match="--resume"):
        Trainer(_config(steps=128), run, progress=False)


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    run = tmp_path / "run"
    trainer = Trainer(_config(steps=2048), run, progress=False)
    real_iterate = trainer.algo.iterate
    calls = {"n": 0}

    def poisoned_iterate():
        metrics = real_iterate()
        calls["n"] += 1
        if calls["n"] == 3:  # after the checkpoint at step 256
            with torch.no_grad():
                trainer.algo.model.actor[0].weight[0, 0] = float("nan")
        return metrics

    trainer.algo.iterate = poisoned_iterate
    with pytest.raises(TrainingDivergedError, match=r"step 384.*NaN.*last good checkpoint is .*last\.pt"):
        trainer.run()
    last = load_checkpoint(run / "checkpoints" / "last.pt")
    assert last["global_step"] == 256
    assert torch.isfinite(last["state"]["model"]["actor.0.weight"]).all()


def test_sigint_saves_a_checkpoint_and_stops(tmp_path):
    run = tmp_path / "run"
    trainer = Trainer(_config(steps=100_000), run, progress=False)
    real_iterate = trainer.algo.iterate

    def interrupted_iterate():
        metrics = real_iterate()
        if trainer.algo.global_step == 384:
            os.kill(os.getpid(), signal.SIGINT)
        return metrics

    trainer.algo.iterate = interrupted_iterate
    # Whatever handler was installed before (default_int_handler, or SIG_IGN in a background job) must come back.
    handler_before = signal.getsignal(signal.SIGINT)
    result = trainer.run()
    assert result.status == "interrupted" and result.stop_signal == signal.SIGINT
    assert result.global_step == 384
    assert load_checkpoint(run / "checkpoints" / "last.pt")["global_step"] == 384
    assert signal.getsignal(signal.SIGINT) == handler_before  # handler restored


@pytest.mark.slow
def test_cli_trains_sac_on_a_gymnasium_env_and_evaluates_it(tmp_path, capsys):
    run = tmp_path / "pend"
    args = [
        "train",
        "--env-id",
        "Pendulum-v1",
        "--algo",
        "sac",
        "--steps",
        "600",
        "--seed",
        "1",
        "--out",
        str(run),
        "--eval-every",
        "0",
        "--eval-episodes",
        "1",
        "--no-progress",
        "--set",
        "hidden=[32,32]",
        "--set",
        "learning_starts=200",
        "--set",
        "steps_per_iteration=200",
    ]
    assert cli_main(args) == 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["env_id"] == "Pendulum-v1" and config["engine"] is None and config["task"] is None
    assert config["algo_config"]["hidden"] == [32, 32]
    capsys.readouterr()
    assert cli_main(["eval", str(run), "--episodes", "2", "--seed", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["episodes"] == 2 and out["success_rate"] is None and len(out["returns"]) == 2
    assert {"mean_return", "std_return"} <= set(out)
    actor, meta = load_policy(run)
    assert meta["algo"] == "sac" and actor(torch.zeros(1, 3)).shape == (1, 1)


def test_cli_errors_are_one_clear_line(tmp_path, capsys):
    assert cli_main(["eval", str(tmp_path / "missing")]) == 1
    assert "not a run directory" in capsys.readouterr().err
    assert cli_main(["train", "--task", "CartpoleBalance-v0", "--env-id", "Pendulum-v1"]) == 1
    assert "exactly one of --task" in capsys.readouterr().err
    assert cli_main(["train", "--env-id", "Pendulum-v1", "--set", "no_such=1", "--out", str(tmp_path / "x")]) == 1
    assert "unknown ppo setting" in capsys.readouterr().err
    assert cli_main(["train", "--env-id", "Pendulum-v1", "--algo", "sac", "--preset", "locomotion"]) == 1
    assert "preset 'locomotion' is for --algo ppo, not sac" in capsys.readouterr().err
    assert cli_main(["train", "--env-id", "Pendulum-v1", "--preset", "fast"]) == 1
    assert "unknown preset 'fast'; choose one of: locomotion" in capsys.readouterr().err


class _ScriptedEnv:
    """Three-step episodes; success when the summed action is positive; reward = action."""

    def __init__(self):
        import gymnasium as gym
        import numpy as np

        self.np = np
        self.action_space = gym.spaces.Box(-1, 1, (1,))
        self.t, self.total = 0, 0.0

    def reset(self, seed=None):
        self.t, self.total = 0, 0.0
        self.obs = self.np.array([float(seed % 2)], dtype=self.np.float32)
        return self.obs, {}

    def step(self, action):
        self.t += 1
        self.total += float(action[0])
        done = self.t == 3
        return self.obs, float(action[0]), False, done, {"success": self.total > 0}

    def close(self):
        pass


def test_evaluate_reports_returns_and_success_rate():
    # Odd seeds give obs 1 -> action +1; even seeds obs 0 -> action -1.
    res = evaluate(lambda o: o * 2 - 1, _ScriptedEnv, episodes=4, seed=10)
    assert res["returns"] == [-3.0, 3.0, -3.0, 3.0]
    assert res["mean_return"] == 0.0 and res["std_return"] == 3.0
    assert res["success_rate"] == 0.5 and res["episodes"] == 4 and res["mean_length"] == 3.0


def test_settings_are_checked_against_their_types():
    # YAML reads "1e-3" as a string: it must still become the float 0.001, not a torch TypeError later.
    cfg = algo_config("ppo", {"learning_rate": "1e-3", "num_envs": 8.0, "desired_kl": None})
    assert cfg.learning_rate == 0.001 and isinstance(cfg.learning_rate, float)
    assert cfg.num_envs == 8 and isinstance(cfg.num_envs, int)
    for bad, message in [
        ({"num_envs": 2.5}, "'num_envs' must be int"),
        ({"anneal_lr": "yes"}, "'anneal_lr' must be bool"),
        ({"learning_rate": "fast"}, "'learning_rate' must be float"),
        ({"target_kl": "x"}, "'target_kl' must be float or null"),
    ]:
        with pytest.raises(RunConfigError, match=message):
            algo_config("ppo", bad)


def test_preset_fills_settings_under_explicit_overrides(tmp_path):
    config = _config(steps=256, num_minibatches=8)
    config.preset = "locomotion"
    config.eval_every = 0
    run = tmp_path / "run"
    trainer = Trainer(config, run)
    cfg = trainer.algo.cfg
    # From the preset: constant learning rate and 256-step rollouts; from --set: the rest, on top.
    assert cfg.anneal_lr is False and cfg.learning_rate == 3e-4 and cfg.num_steps == 32
    assert cfg.num_minibatches == 8 and cfg.num_envs == 4
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["preset"] == "locomotion" and saved["algo_config"]["anneal_lr"] is False
    assert read_run_config(run).algo_settings()["learning_rate"] == 3e-4
    trainer.algo.collector.env.close()


def test_cpu_training_settings_hold_inside_and_are_restored_after():
    import gc

    from robot_rl.training.cpu import cpu_training_settings, denormals_flushed

    assert not denormals_flushed()
    with cpu_training_settings():
        assert denormals_flushed()
        assert torch.tensor(1e-39) * 1.0 == 0.0  # a float32 denormal is zero here
        assert gc.get_freeze_count() > 1000  # the startup objects are out of the collector's walks
    assert not denormals_flushed() and gc.get_freeze_count() == 0
    assert torch.tensor(1e-39).item() != 0.0
