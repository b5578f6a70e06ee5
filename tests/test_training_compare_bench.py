"""bench/training_compare.py: runs side by side, each with what differs from the first and when it got there.

Why: the symmetry figures in docs/training.md come from this comparison; a comparison that mislabels
which setting differs, or reads the wrong evaluation column, would keep a change that does not pay.
"""

from __future__ import annotations

import csv
import json

import pytest
import yaml

from tests.bench_module import load_bench

bench = load_bench("training_compare.py")

COLUMNS = ["step", "time/elapsed_s", "episode/return", "episode/success_rate", "eval/mean_return",
           "eval/success_rate"]


def _run(folder, evals: list[tuple[int, float, float]], **algo) -> None:
    """A run folder as `robot-rl train` writes it: metrics.csv (every iteration, evaluations on some), config."""
    folder.mkdir()
    with open(folder / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        for step, seconds, success in evals:
            writer.writerow({"step": step - 100, "time/elapsed_s": seconds - 1, "episode/return": 1.0,
                             "episode/success_rate": 0.1})  # a training row: no evaluation
            writer.writerow({"step": step, "time/elapsed_s": seconds, "episode/return": 2.0,
                             "episode/success_rate": 0.2, "eval/mean_return": 100 * success,
                             "eval/success_rate": success})
    config = {"env_id": "robot_rl/A1Walk-v0", "seed": 1, "steps": 3000, "time_budget_s": None,
              "algo_config": {"num_envs": 192, "symmetry_augment": False, **algo}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / "summary.json").write_text(json.dumps({"final_eval": {"success_rate": evals[-1][2],
                                                                    "mean_return": 1.0}}))


def test_compare_reports_differences_thresholds_and_plots(tmp_path, capsys):
    _run(tmp_path / "a", [(1000, 10.0, 0.3), (2000, 20.0, 0.6), (3000, 30.0, 0.85)])
    _run(tmp_path / "b", [(1000, 11.0, 0.55), (2000, 22.0, 0.95), (3000, 33.0, 0.9)], symmetry_augment=True)
    out = tmp_path / "cmp.json"
    result = bench.main([f"base={tmp_path / 'a'}", f"sym={tmp_path / 'b'}", "--json", str(out),
                         "--png", str(tmp_path / "cmp.png"), "--note", "test"])
    base, sym = result["runs"]
    assert base["differs_from_first"] == {} and sym["differs_from_first"] == {"symmetry_augment": True}
    assert [p["success"] for p in sym["evaluations"]] == [0.55, 0.95, 0.9]
    assert base["first_reached"]["eval_success_0.9"] is None
    assert base["first_reached"]["eval_success_0.8"] == {"step": 3000, "seconds": 30.0}
    assert sym["first_reached"]["eval_success_0.9"] == {"step": 2000, "seconds": 22.0}
    assert sym["final_evaluation"] == {"success_rate": 0.9, "mean_return": 1.0}
    assert json.loads(out.read_text())["note"] == "test"
    assert (tmp_path / "cmp.png").stat().st_size > 10_000
    assert "sym: 3,000 steps" in capsys.readouterr().out


def test_compare_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(SystemExit, match="no config.yaml"):
        bench.main([f"x={tmp_path}"])
    with pytest.raises(SystemExit):
        bench.main([str(tmp_path)])  # no LABEL=
