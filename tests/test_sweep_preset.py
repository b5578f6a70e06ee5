"""`robot-rl sweep` trains each trial with the task's own preset, as `robot-rl train` does (one rule:
robot_rl.training.presets.resolve_preset). Nothing is trained: the trials' configs are checked."""

from __future__ import annotations

import argparse

import pytest

from robot_rl.commands import sweep, train
from robot_rl.training.presets import PRESETS


def _args(module, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    ("argv", "preset", "algo"),
    [(["--task", "Reach", "--robot", "iiwa"], "reach", "ppo"),
     (["--task", "A1Walk-v0"], "legged", "ppo"),
     (["--task", "Reach", "--robot", "panda", "--preset", "none"], None, "ppo"),
     (["--task", "Reach", "--robot", "panda", "--algo", "sac"], None, "sac"),
     (["--task", "IiwaReach-v0"], None, "ppo"),  # an alias keeps the defaults its shipped card trained with
     (["--task", "Reach", "--robot", "iiwa", "--preset", "locomotion"], "locomotion", "ppo")],
)
def test_a_sweep_takes_the_preset_train_takes(argv, preset, algo, tmp_path, capsys):
    base = sweep._base_config(_args(sweep, [*argv, "--out", str(tmp_path)]))
    assert (base.preset, base.algo) == (preset, algo)
    train_args = _args(train, [*argv, "--out", str(tmp_path)])
    task = base.env_id
    assert train._preset(train_args, task) == (preset, preset is not None and "--preset" not in argv)
    if preset == "reach":  # the preset's settings and measured length reach every trial, and its command says so
        assert base.steps == PRESETS["reach"].steps and base.algo_settings() == PRESETS["reach"].settings
        assert "trains with its own settings, preset 'reach'" in capsys.readouterr().err
        from robot_rl.distributed.sweep import plan_trials

        trials = plan_trials(base, {"learning_rate": [1e-3, 3e-4]}, [0], tmp_path)
        assert all(t.config.preset == "reach" and "--preset reach" in t.config.command for t in trials)
        assert {t.config.algo_settings()["gamma"] for t in trials} == {0.95}


def test_a_sweep_keeps_its_explicit_steps(tmp_path):
    base = sweep._base_config(_args(sweep, ["--task", "Reach", "--robot", "iiwa", "--steps", "5000",
                                            "--out", str(tmp_path)]))
    assert (base.preset, base.steps) == ("reach", 5000)
