"""The main job end to end: deploy over DDS against a sim robot with a reality gap, identify, compare.

Training is covered by the algorithm tests; here the policy is the shipped one (`robot-rl demo
--quick`), so the test exercises deploy (two processes over real DDS, recording) -> identification
run -> sysid -> comparison, and the files a user looks at afterwards.

Why the shipped policy and no longer the exported reference swing-up controller: since the sim robot
reads its joints through encoders and noise (issue 22), the reference controller, marginal under the
gap (returns 117-139 where the trained policy gets 198), failed one of its three episodes in the
calibrated simulator and not on the robot (36 vs 122): a chaotic closed loop at its margin, where a
0.01% parameter error and one encoder count decide. The trained policy swings up with margin, and
its returns on the robot and in the calibrated simulator agree to 1e-6.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from robot_rl.demo import DemoConfig, run
from robot_rl.demo.facts import demo_spec

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_full_loop_identifies_the_gap_and_predicts_the_robot(tmp_path: Path):
    out = tmp_path / "demo"
    fit_names = demo_spec("cartpole").fit_names  # the cart-pole's demo.yaml
    # video_seconds=1: a short replay (30 frames; 2-4 s with the renderer's start) proves the film and its embedding
    summary = run(DemoConfig(out=out, quick=True, robot_episodes=3, progress=False, video_seconds=1.0),
                  Console(file=None, quiet=True))

    # The robot read its joints through encoders and noise (the default), so the identified values carry
    # real, nonzero intervals (measured 4e-5 to 9e-4 relative; with --ideal-sensors 1e-8 to 3e-7) ...
    assert summary["sensors"]["model"].startswith("encoders"), summary["sensors"]
    for name in fit_names:
        p = summary["parameters"][name]
        assert p["half_width_95"] is not None and p["half_width_95"] > 1e-6 * abs(p["true"]), (name, p)
    # ... and every identified parameter close to the sim robot's hidden value (5% target of the issue;
    # measured under 0.01% and adequate for demo seeds 0-7, tests/test_calibration_noise.py has the why)
    for name in fit_names:
        assert summary["parameters"][name]["error_pct"] < 5.0, (name, summary["parameters"][name])
    # the calibrated simulator predicts the robot's return within 5%
    assert summary["sim_to_real_return_gap"]["calibrated"] <= 0.05
    robot = summary["returns"]["robot_pybullet_gap_over_dds"]
    assert robot["episodes"] == 3 and robot["success_rate"] == 1.0
    # what a user opens afterwards
    assert json.loads((out / "summary.json").read_text())["parameters"].keys() == set(fit_names)
    for name in ("deployment.png", "calib/report.html", "calib/params.yaml", "calib/randomization.yaml",
                 "calib/replay.mp4"):
        assert (out / name).stat().st_size > 0, name
    # the replay of the identification run beside the nominal and calibrated ghosts, in the sysid report
    assert summary["replay_video"] == str(out / "calib" / "replay.mp4")
    assert '<video src="replay.mp4"' in (out / "calib" / "report.html").read_text()
    assert (out / "robot_bag" / "metadata.yaml").is_file()
    assert (out / "sysid_bag" / "metadata.yaml").is_file()


def test_quick_demo_without_a_policy_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from robot_rl.demo import config
    from robot_rl.errors import RobotRLError

    monkeypatch.setattr(config, "POLICIES_DIR", tmp_path / "nowhere")
    with pytest.raises(RobotRLError, match="no shipped policy for cartpole .*or run without --quick"):
        run(DemoConfig(out=tmp_path / "o", quick=True, progress=False), Console(quiet=True))
    assert not (tmp_path / "o").exists()  # refused before anything was written
