"""bench/a1_vs_rsl_rl.py and bench/rsl_rl_adapter.py (issue 23, item 7): rsl_rl really trains on our A1 env through
the adapter, time-outs reach it as time-outs, both sides' result lines are complete, the summary applies the issue's
rule. Tiny settings (4 envs, a few steps, 1 evaluation episode) keep it to seconds; the figures are the bench's.

rsl-rl-lib is in pyproject's `bench` extra, which `make setup` installs; the tests that need it skip, saying so,
where it is missing (a plain `pip install -e '.[dev]'`).
"""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

from tests.bench_module import load_bench

NEEDS_RSL = "rsl-rl-lib (pyproject's bench extra, installed by make setup) is not installed: pip install -e '.[bench]'"


@pytest.fixture(scope="module")
def bench():
    return load_bench("a1_vs_rsl_rl.py")


@pytest.fixture(scope="module")
def adapter():
    pytest.importorskip("rsl_rl", reason=NEEDS_RSL)
    pytest.importorskip("tensordict", reason=NEEDS_RSL)
    return load_bench("rsl_rl_adapter.py", "rsl_rl_adapter")


class _ScriptedVecEnv:
    """Three envs whose step results are scripted: env 0 falls (terminated), env 1 runs out of time (truncated)."""

    num_envs = 3
    single_action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def __init__(self) -> None:
        self.actions: list[np.ndarray] = []

    def reset(self, seed: int):
        return np.zeros((3, 5), np.float32), {}

    def step(self, actions):
        self.actions.append(np.array(actions))
        obs = np.full((3, 5), len(self.actions), np.float32)
        reward = np.array([1.0, 2.0, 3.0])
        if len(self.actions) == 2:
            return obs, reward, np.array([True, False, False]), np.array([False, True, False]), {}
        return obs, reward, np.zeros(3, bool), np.zeros(3, bool), {}

    def close(self) -> None:
        pass


def test_adapter_passes_time_outs_clips_actions_and_reports_episodes(adapter):
    import torch

    episodes = []
    env = adapter.RslVecEnv(_ScriptedVecEnv(), seed=0, on_episode=lambda ret, steps: episodes.append((ret, steps)))
    assert env.num_envs == 3 and env.num_actions == 2
    obs, reward, dones, extras = env.step(torch.tensor([[5.0, -5.0]] * 3))
    assert np.array_equal(env.venv.actions[0], [[1.0, -1.0]] * 3)  # clipped to the action bounds
    assert not dones.any() and not extras["time_outs"].any() and episodes == []
    obs, reward, dones, extras = env.step(torch.zeros(3, 2))
    assert dones.tolist() == [True, True, False]
    assert extras["time_outs"].tolist() == [False, True, False]  # only the truncation is bootstrapped
    assert episodes == [(2.0, 6), (4.0, 6)]  # each finished episode's return, at 6 env steps
    assert env.episode_length_buf.tolist() == [0, 0, 2]
    assert torch.equal(obs["policy"], torch.full((3, 5), 2.0)) and reward.dtype == torch.float32


def test_rsl_rl_trains_on_the_a1_env(adapter, bench):
    """rsl_rl's OnPolicyRunner steps the real A1 vector env through the adapter and its updates move the actor;
    the evaluation policy is its deterministic mean, clipped."""
    import torch

    from robot_rl.envs import make_vec_env

    config = bench.run_config(0, {"num_envs": 4})
    env = adapter.RslVecEnv(make_vec_env(config.env_id, 4, seed=0, **config.task_kwargs()), seed=0)
    try:
        assert env.max_episode_length == 1000  # 20 s at 50 Hz
        settings = {**bench.RSL_LEGGED, "hidden": [32, 32], "num_steps": 8}
        runner = adapter.make_runner(env, settings)
        actor = runner.alg.get_policy()
        before = [p.detach().clone() for p in actor.parameters()]
        for _ in range(3):
            runner.learn(1)
        assert env.steps == 3 * 8 * 4
        assert any(not torch.equal(a, b) for a, b in zip(before, actor.parameters(), strict=True))
        policy = adapter.deterministic_policy(actor)
        obs = env.get_observations()["policy"][0].numpy()
        action = policy(obs)
        assert action.shape == (12,) and np.all(np.abs(action) <= 1.0)
        assert np.array_equal(action, policy(obs))  # deterministic
    finally:
        env.close()


def test_ours_is_the_tasks_own_preset(bench):
    """The 'ours' side is `robot-rl train --task A1Walk-v0`: the task's preset, MuJoCo, default DR."""
    from robot_rl.training.presets import task_preset

    config = bench.run_config(3)
    assert config.preset == task_preset(config.env_id, None) == "legged"
    assert config.task_kwargs() == {"engine": "mujoco", "randomization": "default"}
    assert config.seed == 3


@pytest.mark.parametrize("lib", ["ours", "rsl_rl"])
def test_trial_lines_have_the_expected_fields(bench, lib, tmp_path):
    if lib == "rsl_rl":
        pytest.importorskip("rsl_rl", reason=NEEDS_RSL)
    spec = {"lib": lib, "seed": 0, "marks_s": [0.0], "minutes": [5.0], "episodes": 1,
            "overrides": {"num_envs": 4, "num_steps": 8, "hidden": [32, 32]},
            "rsl_overrides": {"hidden": [32, 32], "num_steps": 8}}
    (line,) = bench.trial(spec)
    json.dumps(line)  # plain JSON
    assert line["lib"] == lib and line["seed"] == 0 and line["minutes"] == 5.0
    assert line["iterations"] == 1 and line["env_steps"] == 4 * 8 and line["num_envs"] == 4
    assert line["train_seconds"] > 0 and line["env_steps_per_s"] > 0
    assert line["eval_episodes"] == 1 and line["eval_seed"] == 1_000_000
    assert line["eval_success_rate"] in (0.0, 1.0) and np.isfinite(line["eval_mean_return"])
    if lib == "ours":
        assert line["settings"]["preset"] == "legged" and line["settings"]["asymmetric"] is True
    else:  # legged_gym's PPO settings, only the network and rollout shrunk here
        assert line["settings"]["algorithm"]["schedule"] == "adaptive"
        assert line["settings"]["algorithm"]["desired_kl"] == 0.01 and line["settings"]["init_std"] == 1.0


def _line(lib: str, seed: int, minutes: float, success: float) -> dict:
    return {"lib": lib, "seed": seed, "minutes": minutes, "train_seconds": minutes * 60 + 1.0,
            "eval_success_rate": success}


def test_summary_applies_the_issues_rule_and_the_plot_is_written(bench, tmp_path, capsys):
    lines = [_line("ours", s, m, v) for s in (1, 2) for m, v in ((5.0, 0.4), (10.0, 0.9))]
    lines += [_line("rsl_rl", s, m, v) for s in (1, 2) for m, v in ((5.0, 0.0), (10.0, 0.3 + 0.2 * s))]
    summary = bench.summarize(lines)
    assert summary["mean_success"]["rsl_rl"] == {"5": 0.0, "10": 0.6}
    target = summary["target_10min"]
    assert target["ours"] == 0.9 and target["rsl_rl"] == 0.6 and target["ratio"] == 1.5
    assert target["met"] is False  # not 2x, and 0.4 at 5 min < 0.6 at 10 min
    faster = [dict(ln, eval_success_rate=0.7) if ln["lib"] == "ours" and ln["minutes"] == 5.0 else ln for ln in lines]
    assert bench.summarize(faster)["target_10min"]["met"] is True  # the same success in half the time
    out = tmp_path / "cmp.jsonl"  # --replot: the PNG and the summary of a file's lines, training nothing
    out.write_text("".join(json.dumps(ln) + "\n" for ln in lines))
    capsys.readouterr()
    assert bench.main(["--replot", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["summary"] == summary
    assert (tmp_path / "cmp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_help_names_the_options(bench, capsys):
    with pytest.raises(SystemExit):
        bench.main(["--help"])
    text = capsys.readouterr().out
    for option in ("--minutes", "--seeds", "--quick", "--episodes", "--rsl-obs-normalization", "--replot"):
        assert option in text
