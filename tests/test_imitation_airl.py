"""AIRL's discriminator: its disentangled form, the learner's reward, the saved g, and that it learns to rank.

The expert's transitions come from a real recording (the shipped swing-up policy on `sim-robot` over
DDS, 2 episodes); the negatives from a random policy in the simulator. What must hold: the logit is
exactly g(s) + gamma h(s') - h(s) - log pi(a|s) with g reading the state only (positions) and h dropped
after a terminal step; the learner's reward is that logit; a few hundred updates rank the expert's
transitions above random ones (on several seeds) and g alone ranks the expert's states above random
ones; the saved reward is g mapped to 1 on the expert's states, and `robot-rl irl --method airl` runs.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from seeds import test_seed

from robot_rl.algos.modules import GaussianActorCritic, gaussian_log_prob
from robot_rl.cli import main
from robot_rl.imitation.airl import AIRLConfig, AIRLDiscriminator, expert_transitions
from robot_rl.imitation.demos import read_demonstrations
from robot_rl.imitation.reward import load_reward, save_reward

pytestmark = [pytest.mark.timeout(120)]

EXPERT = Path(__file__).resolve().parents[1] / "policies" / "cartpole_swingup"
TASK = "CartpoleSwingup-v0"
GAMMA = 0.99


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory):
    from robot_rl.imitation.record import record_demonstrations

    bag = tmp_path_factory.mktemp("airl") / "swingup"
    record_demonstrations(EXPERT, bag, episodes=2, seed=test_seed(70), randomization="default", timeout_s=90)
    return read_demonstrations([bag], TASK)


def _random_transitions(seed: int, steps: int = 512) -> dict[str, np.ndarray]:
    """(s, a, s', terminated) of a uniform random policy, as the reward wrapper keeps them."""
    from robot_rl.envs import make_vec_env
    from robot_rl.imitation.reward import LearnedRewardVecEnv, RewardNet

    env = LearnedRewardVecEnv(make_vec_env(f"robot_rl/{TASK}", 4, seed=seed), RewardNet(6, [0]),
                              keep_observations=True)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    try:
        for _ in range(steps // 4):
            env.step(rng.uniform(-1, 1, (4, 1)).astype(np.float32))
        return env.drain_transitions()
    finally:
        env.close()


def _disc(demos, seed: int, **cfg) -> AIRLDiscriminator:
    disc = AIRLDiscriminator(demos, AIRLConfig(**cfg), GAMMA, seed)
    torch.manual_seed(seed)
    model = GaussianActorCritic(6, 1, (64, 64), "tanh", normalize=True, init_log_std=0.0)
    disc.bind(SimpleNamespace(model=model))
    return disc


def test_the_logit_has_the_disentangled_form(demos) -> None:
    disc = _disc(demos, test_seed(0))
    batch = _random_transitions(test_seed(0), 64)
    disc.add_negatives(batch)
    disc.update()
    assert disc.floor != 0.0  # set by the update: the low quantile of the latest transitions' f - log pi
    assert disc.g.columns == [0, 1, 2]  # g: cart position, cos and sin of the pole angle (positions only)
    assert disc.h.columns == [0, 1, 2, 3, 4]  # h: the state, never the last action (column 5)
    s, a, s2 = (torch.as_tensor(batch[k]) for k in ("obs", "actions", "next_obs"))
    with torch.no_grad():
        g, h, h2 = disc.g.logit(s), disc.h.logit(s), disc.h.logit(s2)
        logp = gaussian_log_prob(a, disc.model.actor_mean(s), disc.model.log_std)
    for terminated in (np.zeros(len(s), bool), np.ones(len(s), bool)):
        reward = disc.transition_reward(batch["obs"], batch["actions"], batch["next_obs"], terminated)
        expected = g + (0.0 if terminated[0] else GAMMA) * h2 - h - logp  # h(s') = 0 after a terminal step
        expected -= disc.floor  # the constant that keeps the reward of almost every step >= 0 (airl.py)
        np.testing.assert_allclose(reward, expected.numpy(), rtol=1e-5, atol=1e-5)
    # The expert's transitions: consecutive pairs of one episode, never across the episodes' boundary.
    t = expert_transitions(demos)
    assert len(t["obs"]) == len(demos.obs) - demos.episodes
    np.testing.assert_array_equal(t["next_obs"][0], demos.obs[1])


@pytest.mark.parametrize("base", [0, 1, 2])
def test_airl_learns_to_rank_expert_over_random_transitions(demos, base: int) -> None:
    seed = test_seed(base)
    disc = _disc(demos, seed, disc_updates=200)
    disc.add_negatives(_random_transitions(seed))
    disc.update()
    held = _random_transitions(seed + 100)  # transitions the discriminator never saw
    e = expert_transitions(demos)
    expert_r = disc.transition_reward(e["obs"], e["actions"], e["next_obs"], e["terminated"])
    random_r = disc.transition_reward(held["obs"], held["actions"], held["next_obs"], held["terminated"])
    # AUC: the share of (expert, random) pairs ranked the right way round (0.5: chance).
    auc = float((expert_r[:, None] > random_r[None, :]).mean())
    assert auc > 0.9, auc  # measured 0.97-0.99 on seeds 0-5
    # g alone, the saved reward, ranks the expert's states above the random policy's.
    with torch.no_grad():
        ge = disc.g.logit(torch.as_tensor(e["next_obs"])).numpy()
        gr = disc.g.logit(torch.as_tensor(held["next_obs"])).numpy()
    g_auc = float((ge[:, None] > gr[None, :]).mean())
    assert g_auc > 0.85, g_auc  # measured 0.96-0.98 on seeds 0-5


def test_saved_reward_is_g_worth_one_on_the_expert_and_irl_airl_runs(demos, tmp_path: Path) -> None:
    import json

    disc = _disc(demos, test_seed(0), disc_updates=50)
    disc.add_negatives(_random_transitions(test_seed(0), 256))
    disc.update()
    path = save_reward(tmp_path / "reward.pt", disc.reward_net(), TASK, "cartpole", "airl")
    net, data = load_reward(path, TASK, "cartpole", 6)
    assert data["kind"] == "airl" and net.output == "linear" and net.columns == [0, 1, 2]
    expert_states = expert_transitions(demos)["obs"]
    assert abs(float(net.reward(expert_states).mean()) - 1.0) < 1e-4
    with torch.no_grad():  # an affine map of g: the same ranking of any two states
        g = disc.g.logit(torch.as_tensor(demos.obs)).numpy()
    r = net.reward(demos.obs)
    assert np.corrcoef(g, r)[0, 1] > 0.9999
    # Saved as f (g with its shaping h): `train --reward`'s env pays g(s) + gamma h(s') - h(s), the learner's
    # shaped reward without log pi, on the same scale as g.
    disc.cfg.saved_reward = "f"
    path_f = save_reward(tmp_path / "reward_f.pt", disc.reward_net(), TASK, "cartpole", "airl")
    net_f, data_f = load_reward(path_f, TASK, "cartpole", 6)
    assert data_f["shaping"]["gamma"] == GAMMA and net_f.shaping is not None
    b = _random_transitions(test_seed(1), 64)
    with torch.no_grad():
        h = net_f.shaping.logit(torch.as_tensor(b["obs"])).numpy()
        h2 = net_f.shaping.logit(torch.as_tensor(b["next_obs"])).numpy()
    np.testing.assert_allclose(net_f.transition_reward(b["obs"], b["actions"], b["next_obs"], b["terminated"]),
                               net.reward(b["obs"]) + GAMMA * (1.0 - b["terminated"]) * h2 - h, rtol=1e-5, atol=1e-5)
    f_expert = disc.f(*(torch.as_tensor(x) for x in (expert_states, expert_transitions(demos)["next_obs"])),
                      torch.zeros(len(expert_states))).detach().numpy()
    f_saved = net_f.transition_reward(expert_states, None, expert_transitions(demos)["next_obs"],
                                      np.zeros(len(expert_states), bool))
    assert np.corrcoef(f_expert, f_saved)[0, 1] > 0.9999  # f itself, rescaled

    run = tmp_path / "irl"
    assert main(["irl", "--method", "airl", "--demos", *demos.sources, "--task", TASK, "--out", str(run), "--steps",
                 "1024", "--set", "num_envs=4", "--set", "num_steps=128", "--eval-episodes", "1",
                 "--plot-episodes", "0", "--seed", str(test_seed(0))]) == 0
    config = (run / "config.yaml").read_text()
    assert "irl: airl" in config and "airl_config" in config
    assert json.loads((run / "summary.json").read_text())["method"] == "airl"
    assert load_reward(run / "reward.pt", TASK, "cartpole", 6)[1]["kind"] == "airl"
