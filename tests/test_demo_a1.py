"""`robot-rl demo --robot a1 --quick`, reduced: one 20 s episode over DDS to the PyBullet A1 with a
gap (weaker motors, 20 ms latency, a heavier trunk), an 8 s gantry excitation and a fit of the
motor gains and delay (13 parameters), without step 3's deployments in the sims.

The whole demo (3 episodes per deployment, the policy card's gap plus joint friction, a 12 s
excitation, 37 parameters, both sims) is `robot-rl demo --robot a1 --quick`; identification of
all 37 has its own test (tests/test_calibration_legged.py).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from robot_rl.demo import DemoConfig
from robot_rl.demo import run as run_demo
from robot_rl.demo.facts import demo_spec
from robot_rl.demo.legged import group_of, parameter_rows
from robot_rl.demo.legged_sim_robot import summarize_metrics

# CPU ~20 s (two processes over DDS, an 8 s excitation, a 13-parameter fit); wall time is that on a
# quiet machine and 5-20x more when other jobs hold both cores (a stall > 1 s also reruns the deployment).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_a1_demo_reduced(tmp_path: Path):
    a1 = demo_spec("a1")
    gap = {"trunk.mass": {"scale": 1.25}, "*.gain": {"scale": 0.85}, "action_delay": 0.02}
    reduced = replace(a1, reality_gap=gap, fit_names=("*.gain", "action_delay"),
                      kind=replace(a1.kind, excite_duration=8.0, compare_in_sims=False))
    cfg = DemoConfig(out=tmp_path, quick=True, robot="a1", robot_episodes=1, progress=False)
    summary = run_demo(cfg, Console(quiet=True), reduced)

    robot = summary["episodes"]["robot_pybullet_gap_over_dds"]
    assert robot["episodes"] == 1 and len(robot["episode_metrics"]) == 1
    episode = robot["episode_metrics"][0]
    # The outside observer's numbers agree with the sim robot's own: a fall ends the episode early.
    assert episode["fell"] == (episode["length"] < 1000) and robot["falls"] == int(episode["fell"])
    assert 0.0 <= robot["mean_tracking_error"] < 2.0
    assert (tmp_path / "robot_bag" / "metadata.yaml").is_file() and (tmp_path / "deployment.png").is_file()
    # The gantry's bag says it was suspended, and the fit found the gap's motors.
    assert "robot_rl.suspended: 'true'" in (tmp_path / "sysid_bag" / "metadata.yaml").read_text()
    assert len(summary["parameters"]) == 13
    assert summary["parameters"]["action_delay"]["true"] == pytest.approx(0.02)
    assert summary["motor_gain_and_delay_worst_error_pct"] <= 10.0
    assert summary["parameters"]["RR_lower_joint.gain"]["true"] == pytest.approx(0.85)
    assert json.loads((tmp_path / "summary.json").read_text())["robot"] == "a1"


def test_parameter_groups_and_metrics_summaries():
    assert group_of("RL_lower_joint.kd") == "*_lower_joint.kd" and group_of("action_delay") == "action_delay"
    fitted = {"FR_hip_joint.gain": 0.80, "FL_hip_joint.gain": 0.86, "action_delay": 0.021}
    true = {"FR_hip_joint.gain": 0.85, "FL_hip_joint.gain": 0.85, "action_delay": 0.02}
    rows = {r["group"]: r for r in parameter_rows(fitted, true, dict.fromkeys(fitted, 1.0))}
    assert rows["*_hip_joint.gain"]["n"] == 2 and rows["*_hip_joint.gain"]["identified"] == [0.80, 0.86]
    assert rows["*_hip_joint.gain"]["worst_error_pct"] == pytest.approx(100 * 0.05 / 0.85)
    assert rows["action_delay"]["worst_error_pct"] == pytest.approx(5.0)
    metrics = summarize_metrics([{"fell": True, "tracking_error": 0.5}, {"fell": False, "tracking_error": 0.1},
                                 {"fell": True, "tracking_error": None}])
    assert metrics["falls"] == 2 and metrics["mean_tracking_error"] == pytest.approx(0.3)


def test_a1_demo_refuses_training_and_steps(tmp_path: Path):
    from robot_rl.cli import main
    from robot_rl.errors import RobotRLError

    with pytest.raises(RobotRLError, match="--quick"):
        run_demo(DemoConfig(out=tmp_path, robot="a1"), Console(quiet=True))
    with pytest.raises(SystemExit, match="do not apply"):
        main(["demo", "--robot", "a1", "--quick", "--steps", "1000", "--out", str(tmp_path)])
