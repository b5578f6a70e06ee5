"""The shipped rough-terrain A1 (policies/a1_rough, issue 27): its card lists the ground it trained and was
evaluated on, and through onnxruntime it walks the held-out 8 cm stairs in both engines, falling at most
once in 4 episodes (measured: once in MuJoCo, never in PyBullet; docs/terrain.md has the 20-episode figures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

POLICY = Path(__file__).resolve().parents[1] / "policies" / "a1_rough"


def test_card_lists_the_terrain_it_trained_and_was_evaluated_on():
    card = json.loads((POLICY / "policy.json").read_text())
    assert card["evaluation"]["terrain"]["terrain"].startswith("mixed")
    cases = card["evaluation"]["robustness"]["cases"]
    assert {"held_out_rough_4cm", "held_out_slopes_15deg", "held_out_stairs_8cm",
            "all_at_once_on_rough_4cm"} <= set(cases)
    assert cases["held_out_stairs_8cm"]["terrain"] == "stairs:seed=1"


@pytest.mark.parametrize("engine", ["mujoco", "pybullet"])
def test_walks_held_out_stairs_through_onnx(engine):
    from robot_rl.envs import make_env, resolve_env_id
    from robot_rl.runtime.onnx_policy import OnnxPolicy

    policy = OnnxPolicy(POLICY / "policy.onnx")
    env = make_env(resolve_env_id("A1Walk-v0"), engine=engine, randomization=None, terrain="stairs:seed=1")
    falls, steps = 0, 0
    try:
        for episode in range(4):
            obs, _ = env.reset(seed=1000 + episode)
            while True:
                obs, _, terminated, truncated, _ = env.step(policy.act1(obs))
                steps += 1
                if terminated or truncated:
                    falls += int(terminated)
                    break
    finally:
        env.close()
    assert falls <= 1, f"{engine}: {falls} falls in 4 episodes on 8 cm stairs"
    assert steps >= 3 * 1000  # it walked, not a quick end (an episode is 1000 steps)
