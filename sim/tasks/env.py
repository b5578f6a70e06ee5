"""Gymnasium env for a task on a robot in an engine, under optional params and domain randomization."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from sim.engines import make_engine
from sim.observations import task_interface
from sim.params import ParamsLike, resolve_params
from sim.randomization import RandomizationLike, load_randomization
from sim.robot import RobotSpec, load_robot
from sim.tasks.registry import logic_for


def privileged_vector(robot: RobotSpec, params: dict[str, float]) -> np.ndarray:
    """The sampled physics as a fixed-size vector for an asymmetric critic.

    Each parameter relative to its nominal value (1 = nominal); parameters whose nominal is 0
    (delay, noise, some frictions) in natural small units: delay in control steps, others x100.
    """
    out = []
    for name, nominal in robot.nominal.items():
        value = params[name]
        if nominal > 0:
            out.append(value / nominal)
        elif name == "action_delay":
            out.append(value * robot.control_hz)
        else:
            out.append(value * 100.0)
    return np.asarray(out, dtype=np.float32)


class RobotTaskEnv(gym.Env):
    """One robot doing one task. See sim/tasks/<task>.py for reward and success.

    Args:
        engine: "mujoco" or "pybullet".
        randomization: DR config name ("default"), path, mapping, or None for none.
        params: params file or mapping (absolute or {scale: s}) applied before randomization.
    """

    metadata = {"render_modes": []}

    def __init__(self, task: str, engine: str = "mujoco", randomization: RandomizationLike = None,
                 params: ParamsLike = None, robot: RobotSpec | str | None = None):
        logic_cls = logic_for(task)
        self.robot = robot if isinstance(robot, RobotSpec) else load_robot(robot or logic_cls.robot_name)
        self.interface = task_interface(task, self.robot)
        self.logic = logic_cls(self.robot, self.interface)
        self.task_id = logic_cls.task_id
        self.engine_name = engine
        self.base_params = resolve_params(self.robot, params)
        self.randomization = load_randomization(self.robot, randomization)
        self.engine = make_engine(self.robot, engine, self.base_params)
        n_obs, n_act = self.interface.obs_size, self.interface.action_size
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (n_obs,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (n_act,), np.float32)
        self.params = dict(self.base_params)
        self._rng = np.random.default_rng()
        self._step = 0
        self._last_action = np.zeros(n_act)
        self._command = np.zeros(self.interface.command_size)
        self._ok = self.logic.success_init(1)

    # -- gymnasium API -----------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        rng = self._rng
        if self.randomization is not None:
            self.params = self.randomization.sample_params(rng, self.base_params)
        else:
            self.params = dict(self.base_params)
        self.engine.set_params(self.params)
        q, qd, command = self.logic.initial_state(rng, 1)
        q, qd = q[0], qd[0]
        if self.randomization is not None:
            dq, dv = self.randomization.sample_initial_offset(rng, len(q))
            q, qd = q + dq, qd + dv
        self.engine.reset(q, qd)
        self._command = command[0]
        self._step = 0
        self._last_action = np.zeros(self.interface.action_size)
        self._ok = self.logic.success_init(1)
        return self._observe(), {"privileged": privileged_vector(self.robot, self.params)}

    def step(self, action):
        action = np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0)
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action contains NaN/inf: {action}")
        self.engine.step(self.interface.action_to_command(action))
        if self.randomization is not None:
            kick = self.randomization.sample_push(self._rng, len(self.robot.joints))
            if kick is not None:
                self.engine.apply_velocity_kick(kick)
        self._step += 1
        q, qd = self.engine.joint_state()
        reward, terminated = self.logic.reward(q[None], qd[None], action[None], self._command[None])
        terminated = bool(terminated[0])
        self.logic.success_update(self._ok, q[None], self._command[None], np.array([self._step]),
                                  np.array([terminated]), None)
        self._last_action = action
        truncated = self._step >= self.logic.episode_steps and not terminated
        info: dict[str, Any] = {"privileged": privileged_vector(self.robot, self.params)}
        if terminated or truncated:
            info["success"] = bool(self._ok[0])
        return self._observe(), float(reward[0]), terminated, truncated, info

    def close(self):
        self.engine.close()

    # -- helpers -------------------------------------------------------------------------
    def _observe(self) -> np.ndarray:
        q, qd = self.engine.joint_state()
        noise = self.params["obs_noise"]
        if noise > 0:
            q = q + self._rng.normal(0.0, noise, q.shape)
            qd = qd + self._rng.normal(0.0, noise, qd.shape)
        return self.interface.build(q, qd, self._last_action, self._command)

    @property
    def command(self) -> np.ndarray:
        """The task's goal/command for this episode (e.g. the reach target)."""
        return self._command.copy()
