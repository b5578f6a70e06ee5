"""DQN's options, each checked for what it promises: update phases, Polyak targets, lr annealing, the
dueling/LayerNorm network rebuilt from a checkpoint alone. Fast (a few hundred CartPole steps)."""

from __future__ import annotations

import copy

import numpy as np
import torch

from robot_rl.algos.dqn import DQN, DQNConfig
from robot_rl.envs import make_vec_env

SMALL = {"hidden": (16, 16), "learning_starts": 64, "batch_size": 16, "buffer_size": 1000, "steps_per_iteration": 128}


def _dqn(**overrides) -> DQN:
    cfg = DQNConfig(**{**SMALL, **overrides})
    return DQN(make_vec_env("CartPole-v1", cfg.num_envs, seed=0), cfg, total_steps=512, seed=0)


def test_train_freq_does_the_updates_in_phases():
    algo = _dqn(train_freq=32, utd=0.5)
    seen = []
    update = algo.update

    def counting_update():
        seen.append(algo.global_step)
        return update()

    algo.update = counting_update
    algo.iterate()  # steps 1..128: updates earned from step 64 (learning_starts) on, done at 96 and 128
    algo.close()
    assert seen == [96] * 16 + [128] * 16


def test_polyak_target_moves_a_fraction_tau_toward_the_online_network():
    algo = _dqn(tau=0.25, target_update_interval=1)
    before = copy.deepcopy(algo.q_target.state_dict())
    with torch.no_grad():
        for p in algo.q.parameters():
            p.add_(1.0)
    online = copy.deepcopy(algo.q.state_dict())
    algo.replay.add(obs=torch.zeros(16, 4), next_obs=torch.zeros(16, 4), actions=torch.zeros(16),
                    rewards=torch.ones(16), terminated=torch.zeros(16))  # fmt: skip
    algo.optimizer.param_groups[0]["lr"] = 0.0  # the online net stays put: only the target update acts
    algo.update()
    algo.close()
    for name, value in algo.q_target.state_dict().items():
        torch.testing.assert_close(value, before[name] + 0.25 * (online[name] - before[name]))


def test_annealed_learning_rate_falls_linearly_to_zero():
    algo = _dqn(anneal_lr=True, learning_rate=1e-3)
    assert algo.learning_rate() == 1e-3
    algo.global_step = 384
    assert abs(algo.learning_rate() - 0.25e-3) < 1e-12
    algo.close()


def test_dueling_layer_norm_actor_rebuilds_from_the_checkpoint_alone():
    algo = _dqn(dueling=True, layer_norm=True)
    algo.iterate()
    meta, state = algo.model_meta(), algo.state_dict(include_replay=False)
    assert meta["dueling"] and meta["layer_norm"]
    actor = DQN.actor_from_state(meta, state)
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    np.testing.assert_array_equal(actor(torch.from_numpy(obs)).numpy(), algo.act(obs))
    q = algo.q.q_values(torch.from_numpy(obs))
    assert q.shape == (64, 2) and torch.isfinite(q).all()
    plain = _dqn()
    assert "dueling" not in plain.model_meta()  # checkpoints from before the option keep their meta
    algo.close()
    plain.close()


def test_n_step_transitions_match_the_trajectory():
    """Each stored transition sums up to n discounted rewards, then bootstraps from the state n steps on,
    from the true final observation at a time limit, or not at all where the episode terminated."""
    n, gamma = 3, 0.9
    algo = _dqn(n_steps=n, gamma=gamma, learning_starts=10_000)  # no updates: only what is stored
    c, record = algo.collector, []
    step_fn = c.step

    def recording_step(action):
        obs = c.obs.copy()
        result = step_fn(action)
        ended = len(result.done_idx) > 0
        next_obs = result.final_obs[0] if ended else result.next_obs[0]
        record.append((obs[0], int(action[0]), float(result.reward[0]), next_obs, ended, bool(result.terminated[0])))
        return result

    c.step = recording_step
    algo.iterate()
    algo.iterate()
    algo.close()
    expected, episode = [], []
    for obs, action, reward, next_obs, ended, terminated in record:
        episode.append((obs, action, reward, next_obs))
        if not ended:
            continue
        for t in range(len(episode)):
            k = min(n, len(episode) - t)
            ret = sum(gamma**j * episode[t + j][2] for j in range(k))
            boot_discount = 0.0 if (t + k == len(episode) and terminated) else gamma**k
            expected.append((episode[t][0], episode[t][1], ret, episode[t + k - 1][3], boot_discount))
        episode = []
    assert len(expected) > 20  # CartPole under random actions: several whole episodes in 256 steps
    stored = algo.replay.data[: algo.replay.size]
    assert len(stored) >= len(expected)  # plus the first transitions of the episode still running
    cols = algo.replay.columns
    for row, (obs, action, ret, next_obs, discount) in zip(stored, expected, strict=False):
        np.testing.assert_allclose(row[cols["obs"]].numpy(), obs, rtol=1e-6)
        assert row[cols["actions"]].item() == action
        assert abs(row[cols["rewards"]].item() - ret) < 1e-5
        np.testing.assert_allclose(row[cols["next_obs"]].numpy(), next_obs, rtol=1e-6)
        assert abs(row[cols["discount"]].item() - discount) < 1e-6
