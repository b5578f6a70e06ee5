"""Batched vector env: N robots doing one task, stepped with one batched action (the episode core).

MuJoCo: every env has its own MjModel (so domain randomization differs per env) and the whole
batch advances one control step in a single threaded `mujoco.rollout` call
(sim/engines/mujoco_batch.py). PyBullet: a loop over engines (sim/engines/batch.py). Task logic is
the same batched code as the single env's (sim/core.py).

Autoreset follows Gymnasium's SAME_STEP mode: when an episode ends, the returned observation is
already the next episode's first one; the terminal observation is in `info["final_obs"]` (mask
`info["_final_obs"]`) and the ended episodes' infos in `info["final_info"]` (`success`,
`privileged`, and `reward/<term>`: each weighted reward term summed over the episode; masked).
`info["privileged"]` holds each env's critic input (see sim.core.EpisodeCore.privileged). On a terrain
(`terrain=`, sim/terrain.py) `final_info["terrain/level"]` is each ended episode's terrain level (row).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from sim.core import EpisodeCore
from sim.params import ParamsLike
from sim.randomization import RandomizationLike
from sim.robot import RobotSpec


class RobotVectorEnv(VectorEnv):
    """N copies of a robot_rl task, batched. Same kwargs as the single env (robot= included: a shipped
    robot's name, a robot.yaml path or a RobotSpec), plus num_envs and seed."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, task_id: str, num_envs: int, *, seed: int | None = None, engine: str = "mujoco",
                 randomization: RandomizationLike = None, params: ParamsLike = None, nthread: int | None = None,
                 robot: RobotSpec | str | None = None, motor_model: Any = None, actuator_net: Any = None,
                 terrain: Any = None):
        self.core = EpisodeCore(task_id, num_envs, engine=engine, randomization=randomization, params=params,
                                seed=seed, nthread=nthread, robot=robot, motor_model=motor_model,
                                actuator_net=actuator_net, terrain=terrain)
        c = self.core
        self.robot, self.interface, self.logic, self.task_id = c.robot, c.interface, c.logic, c.task_id
        self.num_envs, self.engine_name = num_envs, engine
        self.base_params, self.randomization = c.base_params, c.randomization
        self.sim = c.sim
        n_obs, n_act = self.interface.obs_size, self.interface.action_size
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (n_obs,), np.float32)
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (n_act,), np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, priv = self.core.reset(seed)
        return obs, {"privileged": priv}

    def step(self, actions):
        core = self.core
        out = core.step(actions)
        obs, terminated, truncated = out.obs, out.terminated, out.truncated
        done = terminated | truncated
        info: dict[str, Any] = {}
        if done.any():  # the method, not np.any: a third of the cost, on every step
            idx = done.nonzero()[0]
            final_obs = np.empty(self.num_envs, dtype=object)
            final_obs[:] = None
            for i in idx:
                final_obs[i] = obs[i].copy()
            info["final_obs"], info["_final_obs"] = final_obs, done.copy()
            final_info: dict[str, Any] = {"success": core.success(), "_success": done.copy(),
                                          "privileged": core.privileged(core.state), "_privileged": done.copy()}
            for key, values in core.episode_reward_terms().items():
                final_info[key], final_info[f"_{key}"] = values, done.copy()
            if core.ground is not None:  # the terrain level each ended episode was on (the curriculum's)
                final_info["terrain/level"] = core.ground.levels.astype(float)
                final_info["_terrain/level"] = done.copy()
            info["final_info"] = final_info
            for i in idx:
                core.reset_env(i)
            core.state = core.sim.state()
            obs = core.observe(core.state)
        info["privileged"] = core.privileged(core.state)
        return obs, out.reward.astype(np.float64), terminated, truncated, info

    def close_extras(self, **kwargs: Any) -> None:
        self.core.close()
