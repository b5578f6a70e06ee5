"""bench/train_speed.py (issue 23, item 1): its ceiling steps the training's own physics, its JSON is complete.

Small settings (8 envs x 4 steps) keep it to seconds; the figures themselves are the bench's business.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.bench_module import load_bench


@pytest.fixture(scope="module")
def bench():
    return load_bench("train_speed.py")


def test_ceiling_replays_the_training_physics(bench):
    """The ceiling's rollout call from a recorded state and command lands where the training's step landed:
    the same models (DR included), the same physics, only no policy and no task logic around it."""
    algo, preset, _ = bench.build("iiwa", {"num_envs": 8, "num_steps": 4})
    try:
        assert preset == "reach"
        calls = bench.record_physics(algo)
        assert len(calls) == 4
        after_first = calls[1][0]  # the state before the second call: the first call's result (unless reset)
        step, n, out = bench.ceiling_stepper(algo, calls)
        assert n == 8
        step()
        same = [np.array_equal(out[i, -1], after_first[i]) for i in range(8)]
        assert sum(same) >= 6, same  # a row differs only where its episode was reset or pushed in between
    finally:
        algo.close()


def test_bench_writes_a_complete_line(bench, tmp_path):
    out = tmp_path / "speed.jsonl"
    assert bench.main(["--robots", "iiwa", "--seconds", "0.01", "--rounds", "1", "--set", "num_envs=8",
                       "--set", "num_steps=4", "--out", str(out)]) == 0
    line = json.loads(out.read_text().splitlines()[-1])
    assert line["robot"] == "iiwa" and line["preset"] == "reach" and line["batch"] == 32
    for key in ("ceiling", "collection", "update", "training", "overlap_bound"):
        assert line[f"{key}_env_steps_per_s"] > 0
    assert set(line["profile_fraction"]) == {"physics", "env_logic", "policy_inference", "update", "other"}
    assert sum(line["profile_fraction"].values()) == pytest.approx(1.0, abs=0.01)
    assert line["profile_fraction"]["physics"] > 0 and line["profile_fraction"]["update"] > 0
    assert len(line["loadavg_start"]) == 3


def test_bench_help_explains_the_figures(bench, capsys):
    with pytest.raises(SystemExit):
        bench.main(["--help"])
    text = capsys.readouterr().out
    assert "ceiling_env_steps_per_s" in text and "profile_fraction" in text and "--robots" in text
