"""`robot-rl demo --robot iiwa`, piece by piece: deploy over DDS to a PyBullet iiwa with the demo's
reality gap, fine-tune the shipped policy from its checkpoint on a calibrated simulator, deploy again.

Why pieces and not the whole `--quick` run: its identification step (nine parameters of a 7-DoF
arm from a 20 s excitation) alone takes minutes on this machine; identification has its own tests
(tests/test_sysid*.py) and the whole demo is `robot-rl demo --robot iiwa --quick`. Here the
"calibrated simulator" is the sim robot's true physics, i.e. what a perfect fit would return.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from robot_rl.demo.config import CHECKPOINT_FILE, DemoConfig
from robot_rl.demo.facts import demo_spec
from robot_rl.demo.plots import plot_deployment
from robot_rl.demo.steps import deploy_episodes, fine_tune
from sim.params import write_params
from sim.robot import load_robot

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_iiwa_deploy_finetune_deploy(tmp_path: Path):
    iiwa = demo_spec("iiwa")  # its gap: sim/robots/iiwa/demo.yaml; its policy: policies/iiwa_reach
    shipped = iiwa.policy
    cfg = DemoConfig(out=tmp_path, robot="iiwa", robot_episodes=2, progress=False)
    console = Console(file=None, quiet=True)
    gap = tmp_path / "robot_params.yaml"
    write_params(gap, iiwa.reality_gap)

    before, bag = deploy_episodes(cfg, iiwa, shipped, "pybullet", gap, "robot", record=True)
    assert before["episodes"] == 2 and before["through"] == "deploy chain (sim robot + policy node)"
    assert len(before["final_goal_distance"]) == 2
    assert before["max_final_goal_distance"] >= before["mean_final_goal_distance"] > 0.0
    assert (bag / "metadata.yaml").is_file()
    assert plot_deployment(bag, tmp_path / "deployment.png", iiwa).stat().st_size > 0

    dr = load_robot("iiwa").root / "randomization" / "default.yaml"
    run_dir, tuned = fine_tune(cfg, iiwa, shipped / CHECKPOINT_FILE, gap, dr, 4096, console)
    assert (tuned / "policy.onnx").is_file() and (run_dir / "checkpoints" / "last.pt").is_file()
    after, _ = deploy_episodes(cfg, iiwa, tuned, "pybullet", gap, "robot_after", record=False)
    # 4k steps at the fine-tuning rate barely move the weights: the tuned policy still reaches,
    # which a network that did not start from the checkpoint would not (it would stop ~0.3 m off).
    assert after["episodes"] == 2 and after["mean_final_goal_distance"] < 0.05
