"""bench/terrain_cost.py (issue 27's cost target): one JSON line per terrain with the ratio and where the time goes.

Tiny settings (4 robots, a few steps per window) keep it to seconds; the figures themselves are the bench's
business (docs/terrain.md).
"""

from __future__ import annotations

import json

import pytest

from tests.bench_module import load_bench


@pytest.fixture(scope="module")
def bench():
    return load_bench("terrain_cost.py")


@pytest.mark.parametrize("actor", ["random", "walk"])
def test_one_line_per_terrain_with_the_ratio_and_the_contact_figures(bench, tmp_path, monkeypatch, capsys, actor):
    out = tmp_path / "terrain_cost.jsonl"
    monkeypatch.setattr(bench, "RESULTS", out)
    small = "tile_size=2,rows=2,cols=2,border=1"
    bench.main(["--terrain", f"rough:{small}", "--terrain", f"rough:amplitude=0,{small}", "--actor", actor,
                "--num-envs", "4", "--seconds", "0.05", "--rounds", "2"])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["terrain"].split(":")[1].split(",")[0] for line in lines] == ["amplitude=0.04", "amplitude=0.0"]
    for line in lines:
        assert line["actor"] == ("random actions" if actor == "random" else "policies/a1_walk")
        lo, hi = line["cost_ratio_range"]
        assert 0 < lo <= line["cost_ratio_terrain_to_flat"] <= hi
        for side in ("physics_step_flat", "physics_step_terrain"):
            figures = line[side]
            assert figures["contacts"] > 0 and figures["constraint_rows"] >= figures["contacts"]
            assert figures["newton_iterations"] >= 0
