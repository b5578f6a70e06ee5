"""GAIL's discriminator, the learned reward file and `robot-rl train --reward`.

The expert's observations come from a real recording (the shipped swing-up policy on `sim-robot` over
DDS, 2 episodes); the negatives from a random policy in the simulator. What must hold: a few
discriminator updates separate the expert from random behaviour and the learned reward ranks the
expert's states above random ones (on several seeds); the reward file round-trips, refuses another
task, and `robot-rl train --reward FILE` trains on it (the reward the learner sees is the file's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from seeds import test_seed

from robot_rl.cli import main
from robot_rl.imitation.demos import read_demonstrations
from robot_rl.imitation.gail import Discriminator, GAILConfig
from robot_rl.imitation.reward import load_reward, save_reward, state_columns

pytestmark = [pytest.mark.timeout(120)]

EXPERT = Path(__file__).resolve().parents[1] / "policies" / "cartpole_swingup"
TASK = "CartpoleSwingup-v0"


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory):
    from robot_rl.imitation.record import record_demonstrations

    bag = tmp_path_factory.mktemp("irl") / "swingup"
    record_demonstrations(EXPERT, bag, episodes=2, seed=test_seed(60), randomization="default", timeout_s=90)
    return read_demonstrations([bag], TASK)


def _random_rollout(seed: int, steps: int = 256) -> np.ndarray:
    from robot_rl.envs import make_vec_env

    env = make_vec_env(f"robot_rl/{TASK}", 4, seed=seed)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    seen = []
    try:
        for _ in range(steps // 4):
            obs, *_ = env.step(rng.uniform(-1, 1, (4, 1)).astype(np.float32))
            seen.append(obs)
    finally:
        env.close()
    return np.concatenate(seen).astype(np.float32)


@pytest.mark.parametrize("base", [0, 1, 2])
def test_discriminator_separates_expert_from_random_after_a_few_updates(demos, base: int) -> None:
    seed = test_seed(base)
    disc = Discriminator(demos.obs, state_columns(demos.interface), GAILConfig(disc_updates=150), seed)
    random_obs = _random_rollout(seed)
    disc.add_negatives(random_obs)
    before = disc.net.reward(demos.obs).mean() - disc.net.reward(random_obs).mean()
    disc.update()  # 150 minibatches of 512: a few seconds
    held_random = _random_rollout(seed + 100)  # states the discriminator never saw
    expert_r, random_r = disc.net.reward(demos.obs), disc.net.reward(held_random)
    # AUC: the share of (expert, random) pairs the reward ranks the right way round (0.5: no better than chance).
    auc = float((expert_r[:, None] > random_r[None, :]).mean())
    gap = float(expert_r.mean() - random_r.mean())
    assert auc > 0.9, auc
    assert gap > 0.2 and gap > abs(before) + 0.1, (gap, before)
    assert disc.net.columns == [0, 1, 2, 3, 4]  # the state, not the last action (column 5)


def test_reward_file_round_trips_and_refuses_another_task(demos, tmp_path: Path) -> None:
    disc = Discriminator(demos.obs, state_columns(demos.interface), GAILConfig(disc_updates=5), test_seed(0))
    disc.add_negatives(_random_rollout(test_seed(0), 64))
    disc.update()
    path = save_reward(tmp_path / "reward.pt", disc.net, TASK, "cartpole")
    net, data = load_reward(path, TASK, "cartpole", 6)
    np.testing.assert_array_equal(net.reward(demos.obs[:20]), disc.net.reward(demos.obs[:20]))
    assert data["task"] == TASK and torch.load(path, weights_only=True)["format"] == "robot-rl/learned-reward/1"
    with pytest.raises(Exception, match="learned for task 'CartpoleSwingup-v0', not 'CartpoleBalance-v0'"):
        load_reward(path, "CartpoleBalance-v0")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(Exception, match="not a readable reward file"):
        load_reward(tmp_path / "junk.pt")


def test_train_with_reward_file_learns_on_the_learned_reward(demos, tmp_path: Path, capsys) -> None:
    from robot_rl.imitation.reward import LearnedRewardVecEnv
    from robot_rl.train import build_algo, read_run_config

    disc = Discriminator(demos.obs, state_columns(demos.interface), GAILConfig(disc_updates=20), test_seed(0))
    disc.add_negatives(_random_rollout(test_seed(0), 128))
    disc.update()
    reward = save_reward(tmp_path / "reward.pt", disc.net, TASK, "cartpole")
    run = tmp_path / "run"
    assert main(["train", "--task", TASK, "--reward", str(reward), "--steps", "1024", "--set", "num_envs=4",
                 "--set", "num_steps=128", "--eval-every", "0", "--eval-episodes", "1", "--out", str(run),
                 "--no-progress", "--randomize", "none"]) == 0
    config = read_run_config(run)
    assert config.reward == str(reward)
    algo = build_algo(config, env_seed=0)
    try:
        env = algo.collector.env
        assert isinstance(env, LearnedRewardVecEnv)
        step = algo.collector.step(np.zeros((4, 1), np.float32))
        np.testing.assert_allclose(step.reward, disc.net.reward(step.next_obs), atol=1e-6)
    finally:
        algo.close()
    # A reward for another task is one line, before any training.
    assert main(["train", "--task", "CartpoleBalance-v0", "--reward", str(reward), "--steps", "1024",
                 "--out", str(tmp_path / "run2"), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "learned for task 'CartpoleSwingup-v0', not 'CartpoleBalance-v0'" in err[0]


def test_irl_command_writes_a_run_that_exports_a_reward_and_its_plot(demos, tmp_path: Path) -> None:
    import json

    run = tmp_path / "irl"
    assert main(["irl", "--demos", *demos.sources, "--task", TASK, "--out", str(run), "--steps", "2048",
                 "--set", "num_envs=4", "--set", "num_steps=256", "--eval-episodes", "1", "--plot-episodes", "1",
                 "--expert", str(EXPERT), "--seed", str(test_seed(0))]) == 0
    net, _ = load_reward(run / "reward.pt", TASK, "cartpole", 6)
    assert net.columns == [0, 1, 2]  # positions: cart position, cos and sin of the pole angle
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["reward_vs_true"]["correlation"]) == {"learner", "random", "expert"}
    assert (run / "reward_vs_true.png").stat().st_size > 10_000
    assert main(["export", str(run), "--out", str(tmp_path / "policy"), "--eval-episodes", "0"]) == 0
