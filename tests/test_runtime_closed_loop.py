"""The shipped policies still do their job behind the SafetyFilter's default limits, in both engines.

The simulator plays the robot: the Controller reads its joint state, and the filtered physical
command goes back in (converted to the env's [-1, 1] action). The start-up ramp and the rate,
effort and position rules must not stop a trained policy from succeeding: a policy that only
works with commands the filter refuses (e.g. position targets jumping by radians per step) fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from robot_rl.envs import make_env
from robot_rl.runtime import Controller, SafetyState

POLICIES = Path(__file__).resolve().parents[1] / "policies"
SHIPPED = {
    "CartpoleSwingup-v0": POLICIES / "cartpole_swingup",
    "IiwaReach-v0": POLICIES / "iiwa_reach",
}


def run_episode(folder: Path, task: str, engine: str, seed: int) -> tuple[bool, int]:
    ctl = Controller(folder)
    env = make_env(task, engine=engine, randomization="default")
    sim = env.unwrapped
    try:
        env.reset(seed=seed)
        q, qd = sim.engine.joint_state()
        t = 0.0
        assert ctl.activate(t, q) is SafetyState.ACTIVE
        goal = sim.command if ctl.runner.interface.command_size else None
        done, steps, info = False, 0, {}
        while not done:
            q, qd = sim.engine.joint_state()
            out = ctl.step(t, t, q, qd, goal)
            assert out.state is SafetyState.ACTIVE, out.fault_reason
            _, _, terminated, truncated, info = env.step(ctl.runner.interface.command_to_action(out.values))
            done, t, steps = terminated or truncated, t + ctl.robot.control_dt, steps + 1
        return bool(info["success"]), steps
    finally:
        env.close()


@pytest.mark.parametrize("engine", ["mujoco", "pybullet"])
@pytest.mark.parametrize("task", sorted(SHIPPED))
def test_shipped_policy_succeeds_behind_the_safety_filter(task, engine):
    """Success behind the filter is at most 25 points below the unfiltered rate the card records."""
    folder = SHIPPED[task]
    if not (folder / "policy.json").is_file():
        pytest.fail(f"{folder} is not shipped: train and export it (see policies/README.md)")
    card = json.loads((folder / "policy.json").read_text())
    unfiltered = card["evaluation"]["results"][f"{engine}_dr"]["success_rate"]
    successes = [run_episode(folder, task, engine, seed=500 + i)[0] for i in range(8)]
    assert unfiltered >= 0.5, f"{folder}: the card records success {unfiltered} without the filter; retrain"
    assert np.mean(successes) >= unfiltered - 0.25, (successes, unfiltered)
