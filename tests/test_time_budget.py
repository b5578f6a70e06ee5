"""`robot-rl train --time-budget`: a run bounded by wall-clock time ends as one bounded by steps does.

The runner's clock is replaced by one that moves a fixed time per training iteration, so what is
checked (where the run stops, the time left, the learning rate following the budget) does not depend
on how loaded the machine is; one test runs the real entry point with a real clock.
"""

from __future__ import annotations

import csv
import json
import types

import pytest
import yaml
from error_checks import one_error_line
from test_cli_guards import robot_rl

import robot_rl.train as runner
from robot_rl.commands.train import parse_duration
from robot_rl.train import NO_STEP_LIMIT, RunConfig, RunConfigError, Trainer, read_run_config, train

TINY_PPO = {"num_envs": 4, "num_steps": 32, "num_minibatches": 2, "update_epochs": 1, "hidden": [8]}
ITERATION_S = 1.0  # fake seconds per training iteration (128 env steps)


@pytest.fixture
def fake_clock(monkeypatch):
    """The runner's time.perf_counter, advanced ITERATION_S by every algorithm iteration only."""
    now = [0.0]
    monkeypatch.setattr(runner, "time", types.SimpleNamespace(perf_counter=lambda: now[0],
                                                              strftime=runner.time.strftime))
    real_build = runner.build_algo

    def build(config, env_seed):
        algo = real_build(config, env_seed)
        iterate = algo.iterate

        def timed():
            now[0] += ITERATION_S
            return iterate()

        algo.iterate = timed
        return algo

    monkeypatch.setattr(runner, "build_algo", build)
    return now


def _config(budget: float | None, steps: int = NO_STEP_LIMIT) -> RunConfig:
    return RunConfig(env_id="robot_rl/CartpoleBalance-v0", algo="ppo", steps=steps, seed=1, engine="mujoco",
                     randomize=None, eval_every=256, eval_episodes=1, checkpoint_every=0,
                     algo_config=dict(TINY_PPO), command="robot-rl train (test)", time_budget_s=budget)  # fmt: skip


def _rows(run) -> list[dict[str, str]]:
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_durations_as_people_write_them():
    assert [parse_duration(t) for t in ("90s", "10m", "1h", "1h30m", "2.5m", "600", " 45 ", "1m30s", "0.5")] == \
        [90, 600, 3600, 5400, 150, 600, 45, 90, 0.5]
    for bad in ("", "abc", "10x", "-5", "1h30", "m", "inf", "nan", "1e3", "10 m"):
        with pytest.raises(ValueError, match="expected a duration such as 90s, 10m, 1h"):
            parse_duration(bad)
    for zero in ("0", "0s", "0h0m"):
        with pytest.raises(ValueError, match="> 0"):
            parse_duration(zero)


def test_a_budget_ends_the_run_evaluated_and_checkpointed(fake_clock, tmp_path):
    run = tmp_path / "run"
    result = train(_config(budget=5.5), run, progress=False)
    # Iterations end at 1, 2, ... fake seconds: the sixth (at 6 s) is the first past 5.5 s and the last.
    assert result.status == "finished" and result.global_step == 6 * 128
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped_by"] == "time_budget" and summary["time_budget_s"] == 5.5
    assert summary["final_eval"]["episodes"] == 1
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "checkpoints" / "best.pt").is_file()
    rows = _rows(run)
    assert [float(r["time/left_s"]) for r in rows] == [4.5, 3.5, 2.5, 1.5, 0.5, 0.0]
    assert rows[-1]["eval/mean_return"] != ""  # the last iteration competes for best.pt
    # The learning rate anneals over the budget, not over the (unlimited) step count: it falls to the
    # elapsed fraction's share, 1 - (t - 1 s) / 5.5 s, as it would over steps at a constant pace.
    lrs = [float(r["train/learning_rate"]) for r in rows]
    assert lrs[0] == pytest.approx(1e-3)
    assert lrs[1:] == pytest.approx([1e-3 * (1 - t / 5.5) for t in (1, 2, 3, 4, 5)], rel=1e-6)
    config = read_run_config(run)
    assert config.time_budget_s == 5.5 and config.steps == NO_STEP_LIMIT


def test_steps_still_end_a_budgeted_run_first(fake_clock, tmp_path):
    train(_config(budget=100.0, steps=384), tmp_path / "run", progress=False)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["global_step"] == 384 and summary["stopped_by"] == "steps"


def test_resume_with_a_larger_budget_continues(fake_clock, tmp_path):
    run = tmp_path / "run"
    train(_config(budget=2.0), run, progress=False)
    config = read_run_config(run)
    train(config, run, resume=True, progress=False)  # out of time already: evaluated, nothing trained
    assert json.loads((run / "summary.json").read_text())["global_step"] == 2 * 128
    config.time_budget_s = 4.0  # the run's total, as --steps: two more iterations
    Trainer(config, run, resume=True, progress=False).run()
    assert json.loads((run / "summary.json").read_text())["global_step"] == 4 * 128


def test_a_bad_budget_in_config_yaml_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    data = {"env_id": "robot_rl/CartpoleBalance-v0", "algo": "ppo", "steps": 1000, "time_budget_s": -3}
    (run / "config.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(RunConfigError, match="'time_budget_s' is -3; expected seconds > 0"):
        read_run_config(run)


def test_the_real_entry_point_trains_for_a_budget_and_refuses_a_bad_one(tmp_path):
    bad = robot_rl("train", "--task", "CartpoleBalance-v0", "--time-budget", "ten minutes", cwd=tmp_path)
    assert bad.returncode == 2
    line = one_error_line(bad.stderr, "train")
    assert "--time-budget" in line and "'ten minutes'" in line and "90s, 10m, 1h" in line
    assert list(tmp_path.iterdir()) == []
    ok = robot_rl("train", "--task", "CartpoleBalance-v0", "--time-budget", "2s", "--randomize", "none",
                  "--set", "num_envs=4", "--set", "num_steps=32", "--set", "hidden=[8]", "--eval-every", "1000",
                  "--eval-episodes", "1", "--out", "run", cwd=tmp_path)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "(time budget 2 s)" in ok.stdout
    assert " left" in ok.stderr  # the progress bar counts the budget down
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["stopped_by"] == "time_budget" and summary["global_step"] > 0
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
