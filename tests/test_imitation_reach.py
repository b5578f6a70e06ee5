"""Demonstrations of a task with a goal: the iiwa reach recorded through `sim-robot` over DDS carries its goal.

The deploy node records, before each state it steps, the goal that step used when it changed
(`ControlNode._record_inputs`); `robot-rl bc` rebuilds the reach observation from the bag with the
task's own observation function. Two short episodes (~5 s): each episode's pairs carry the goal
`sim-robot` drew for it (episode i seeded with seed + i, as the env's reset draws it), and each
episode's first rebuilt observation is the env's first observation up to the simulated encoders'
resolution. Without the goal in the bag the reader refuses it (test_imitation_bc); with a goal
recorded but not used, the goal and goal-error fields would be zero or another episode's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from seeds import test_seed

from robot_rl.imitation.demos import read_demonstrations

pytestmark = [pytest.mark.timeout(120)]

EXPERT = Path(__file__).resolve().parents[1] / "policies" / "iiwa_reach"
TASK = "IiwaReach-v0"


@pytest.fixture(scope="module")
def reach_bag(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    from robot_rl.imitation.record import record_demonstrations

    seed = test_seed(80)
    bag = tmp_path_factory.mktemp("reach") / "reach"
    summary = record_demonstrations(EXPERT, bag, episodes=2, seed=seed, timeout_s=90)
    assert summary["episodes"] == 2 and summary["success_rate"] == 1.0, summary
    return bag, seed


def _field(interface, name: str) -> slice:
    start = 0
    for f in interface.layout:
        if f.name == name:
            return slice(start, start + f.size)
        start += f.size
    raise KeyError(name)


def test_the_bag_holds_the_goal_each_step_used(reach_bag) -> None:
    from robot_rl.deploy.recorder import read_bag

    bag, _ = reach_bag
    goals = [msg for topic, _, msg in read_bag(bag, ["/goal_point"])]
    # One message per goal the node used (sim-robot re-sends the same goal with every state): one per episode.
    assert len(goals) == 2 and goals[0].point != goals[1].point


def test_rebuilt_reach_observations_are_the_envs(reach_bag) -> None:
    from robot_rl.envs import make_env

    bag, seed = reach_bag
    demos = read_demonstrations([bag], TASK)
    assert demos.episodes == 2 and demos.obs.shape[1] == 30
    goal = _field(demos.interface, "goal.position")
    env = make_env(f"robot_rl/{TASK}", engine="pybullet")
    try:
        for i in range(2):
            first, _ = env.reset(seed=seed + i)  # sim-robot's episode i is seeded with seed + i
            rebuilt = demos.obs[demos.episode == i]
            # Every pair of the episode carries the goal the simulator drew for it, to float32 rounding.
            np.testing.assert_allclose(rebuilt[:, goal], np.broadcast_to(first[goal], rebuilt[:, goal].shape),
                                       atol=1e-6)
            # The whole first observation (joints, end effector, goal error), up to the encoders' resolution
            # and noise: the task's own observation function on what the robot reported.
            np.testing.assert_allclose(rebuilt[0], first, atol=3e-3)
    finally:
        env.close()
