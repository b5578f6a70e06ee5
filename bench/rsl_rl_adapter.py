"""rsl_rl (``rsl-rl-lib``, legged_gym's and Isaac Lab's PPO) on our vector envs: the one adapter the benches share.

Used by bench/train_vs_sb3.py (the cart-pole swing-up) and bench/a1_vs_rsl_rl.py (the A1 walk). Three pieces:

* ``RslVecEnv``: any of our SAME_STEP vector envs (``robot_rl.envs.make_vec_env``) as rsl_rl's ``VecEnv``.
  Time-outs (truncated and not terminated) go to rsl_rl as ``extras["time_outs"]``, so its PPO bootstraps
  through them as it does on legged_gym's time-outs; actions are clipped to [-1, 1] as our PPO's are.
* ``runner_config``: an ``OnPolicyRunner`` config from a small settings dict (network, algorithm, rollout length).
* ``deterministic_policy``: the trained actor as ``obs -> action`` for robot_rl's ``evaluate``: the mean
  action through the actor's own observation normalizer (when enabled), clipped to [-1, 1].

rsl_rl is a bench-only dependency (pyproject's ``bench`` extra, which ``make setup`` installs): import this
module only where rsl_rl is wanted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

OBS_GROUP = "policy"  # the one observation group: actor and critic both see the task's observation


class RslVecEnv(VecEnv):
    """One of our vector envs (SAME_STEP autoreset, actions in [-1, 1]) behind rsl_rl's ``VecEnv``.

    ``on_episode(return, env_steps)`` is called for every finished training episode (both benches' curves).
    ``steps`` counts env steps (all envs) taken so far.
    """

    def __init__(self, venv: Any, seed: int, on_episode: Callable[[float, int], None] | None = None) -> None:
        self.venv = venv
        self.num_envs = int(venv.num_envs)
        self.num_actions = int(venv.single_action_space.shape[0])
        core = getattr(venv, "core", None)  # sim.vector.RobotVectorEnv knows its episode length
        self.max_episode_length = int(core.spec.episode_steps) if core is not None else 1000
        self.episode_length_buf = torch.zeros(self.num_envs, dtype=torch.long)
        self.device = "cpu"
        self.cfg: dict = {}
        self.on_episode = on_episode
        obs, _ = venv.reset(seed=seed)
        self.obs = torch.as_tensor(obs, dtype=torch.float32)
        self.running = np.zeros(self.num_envs)
        self.steps = 0

    def get_observations(self) -> TensorDict:
        return TensorDict({OBS_GROUP: self.obs}, batch_size=[self.num_envs])

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        obs, reward, terminated, truncated, _info = self.venv.step(np.clip(actions.numpy(), -1.0, 1.0))
        terminated, truncated = np.asarray(terminated), np.asarray(truncated)
        self.steps += self.num_envs
        self.running += reward
        done = terminated | truncated
        if self.on_episode is not None:
            for i in np.flatnonzero(done):
                self.on_episode(float(self.running[i]), self.steps)
        self.running[done] = 0.0
        self.episode_length_buf += 1
        self.episode_length_buf[torch.as_tensor(done)] = 0
        self.obs = torch.as_tensor(obs, dtype=torch.float32)
        extras = {"time_outs": torch.as_tensor(truncated & ~terminated), "log": {}}
        return self.get_observations(), torch.as_tensor(reward, dtype=torch.float32), torch.as_tensor(done), extras

    def close(self) -> None:
        self.venv.close()


def runner_config(settings: dict[str, Any]) -> dict[str, Any]:
    """``OnPolicyRunner``'s train config from ``settings``; what a key leaves out is rsl_rl's own default.

    Keys: ``hidden`` (both networks, default [256, 256, 256]), ``activation`` ("elu"), ``obs_normalization``
    (False: rsl_rl's empirical normalizer on the actor's and the critic's input), ``num_steps`` (steps per env
    and rollout, 24), ``init_std`` (the actor's initial action std, 1.0), ``algorithm`` (PPO's keyword
    arguments: learning_rate, schedule, desired_kl, num_learning_epochs, num_mini_batches, clip_param,
    entropy_coef, gamma, lam, max_grad_norm, ...).
    """
    model = {"class_name": "MLPModel", "hidden_dims": list(settings.get("hidden", [256, 256, 256])),
             "activation": settings.get("activation", "elu"),
             "obs_normalization": bool(settings.get("obs_normalization", False))}
    return {
        "num_steps_per_env": int(settings.get("num_steps", 24)),
        "save_interval": 10**9,  # no log_dir: nothing is written
        "obs_groups": {"actor": [OBS_GROUP], "critic": [OBS_GROUP]},
        "algorithm": {"class_name": "PPO", **settings.get("algorithm", {})},
        "actor": {**model, "distribution_cfg": {"class_name": "GaussianDistribution",
                                                "init_std": float(settings.get("init_std", 1.0))}},
        "critic": dict(model),
    }


def make_runner(env: RslVecEnv, settings: dict[str, Any]) -> Any:
    """rsl_rl's ``OnPolicyRunner`` on ``env`` with ``runner_config(settings)``, on the CPU, writing no logs."""
    from rsl_rl.runners import OnPolicyRunner

    return OnPolicyRunner(env, runner_config(settings), log_dir=None, device="cpu")


def deterministic_policy(actor: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    """``obs -> action`` of rsl_rl's actor (an ``MLPModel``): its mean output, the actor's observation
    normalizer applied inside it when enabled, clipped to [-1, 1] as the training env clipped the samples."""
    actor = actor.eval()

    @torch.inference_mode()
    def act(obs: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32)[None])
        out = actor(TensorDict({OBS_GROUP: x}, batch_size=[1]), stochastic_output=False)
        return out[0].clamp(-1.0, 1.0).numpy()

    return act
