"""Batched vector env: N robots doing one task, stepped with one batched action.

MuJoCo: every env has its own MjModel (so domain randomization differs per env) and the whole
batch advances one control step (all substeps) in a single threaded `mujoco.rollout` call, with
the per-substep actuator commands (action delay included) laid out in one control array.
PyBullet: a loop over engines (PyBullet has no batched stepping). Task logic (reward, termination,
success) is the same batched numpy code as the single env's.

Autoreset follows Gymnasium's SAME_STEP mode: when an episode ends, the returned observation is
already the next episode's first one; the terminal observation is in `info["final_obs"]` (mask
`info["_final_obs"]`) and the ended episodes' infos in `info["final_info"]` (`success`, masked).
`info["privileged"]` holds each env's sampled physics (see sim.tasks.env.privileged_vector).
"""

from __future__ import annotations

import copy
import os
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from sim.engines import make_engine
from sim.observations import task_interface
from sim.params import ParamsLike, resolve_params
from sim.randomization import RandomizationLike, load_randomization
from sim.robot import load_robot
from sim.tasks.env import privileged_vector
from sim.tasks.registry import logic_for


class _MujocoBatch:
    """N MuJoCo models stepped together with mujoco.rollout."""

    def __init__(self, robot, base_params: dict[str, float], n: int, nthread: int):
        import mujoco
        import mujoco.rollout

        from sim.engines.mujoco import ModelParamWriter, build_spec

        self.mujoco = mujoco
        self.robot = robot
        base = build_spec(robot).compile()
        self.models = [copy.copy(base) for _ in range(n)]
        self.writer = ModelParamWriter(base, robot)
        self.scratch = mujoco.MjData(base)
        self.nthread = nthread
        self.datas = [mujoco.MjData(base) for _ in range(nthread)]
        self.runner = mujoco.rollout.Rollout(nthread=nthread)
        self.spec_bits = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self.nstate = mujoco.mj_stateSize(base, self.spec_bits)
        jid = [base.joint(j.name).id for j in robot.joints]
        self.qpos_idx = 1 + np.array([base.jnt_qposadr[i] for i in jid])
        self.qvel_idx = 1 + base.nq + np.array([base.jnt_dofadr[i] for i in jid])
        self.state = np.zeros((n, self.nstate))
        self.out = np.zeros((n, robot.substeps, self.nstate))
        self.chunk = max(1, n // nthread)
        for i in range(n):
            self.set_params(i, base_params)

    def set_params(self, i: int, params: dict[str, float]) -> None:
        self.writer.apply(self.models[i], params)

    def reset(self, i: int, q: np.ndarray, qd: np.ndarray) -> None:
        m, d = self.models[i], self.scratch
        self.mujoco.mj_resetData(m, d)
        self.mujoco.mj_getState(m, d, self.state[i], self.spec_bits)
        self.state[i, self.qpos_idx] = q
        self.state[i, self.qvel_idx] = qd

    def step(self, control: np.ndarray) -> None:
        self.runner.rollout(self.models, self.datas, self.state, control,
                            control_spec=self.mujoco.mjtState.mjSTATE_CTRL, skip_checks=True,
                            nstep=self.robot.substeps, state=self.out, chunk_size=self.chunk)
        self.state[:] = self.out[:, -1]

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self.state[:, self.qpos_idx], self.state[:, self.qvel_idx]

    def kick(self, i: int, dqd: np.ndarray) -> None:
        self.state[i, self.qvel_idx] += dqd

    def close(self) -> None:
        self.runner.close()


class _EngineLoop:
    """Any engine, one instance per env (used for PyBullet)."""

    def __init__(self, robot, engine: str, base_params: dict[str, float], n: int):
        self.engines = [make_engine(robot, engine, base_params) for _ in range(n)]
        self.robot = robot

    def set_params(self, i: int, params: dict[str, float]) -> None:
        # The delay is realized by the vector env's own delay history, not the engine's.
        self.engines[i].set_params({**params, "action_delay": 0.0})

    def reset(self, i: int, q: np.ndarray, qd: np.ndarray) -> None:
        self.engines[i].reset(q, qd)

    def step(self, control: np.ndarray) -> None:
        for engine, ctrl in zip(self.engines, control, strict=True):
            for s in range(ctrl.shape[0]):
                engine.run_substeps(ctrl[s], 1)

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        states = [e.joint_state() for e in self.engines]
        return np.stack([s[0] for s in states]), np.stack([s[1] for s in states])

    def kick(self, i: int, dqd: np.ndarray) -> None:
        self.engines[i].apply_velocity_kick(dqd)

    def close(self) -> None:
        for e in self.engines:
            e.close()


class RobotVectorEnv(VectorEnv):
    """N copies of a robot_rl task, batched. Same kwargs as the single env, plus num_envs and seed."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, task_id: str, num_envs: int, *, seed: int | None = None, engine: str = "mujoco",
                 randomization: RandomizationLike = None, params: ParamsLike = None, nthread: int | None = None):
        task = task_id.removeprefix("robot_rl/")
        logic_cls = logic_for(task)
        self.robot = load_robot(logic_cls.robot_name)
        self.interface = task_interface(task, self.robot)
        self.logic = logic_cls(self.robot, self.interface)
        self.task_id = task
        self.num_envs = num_envs
        self.engine_name = engine
        self.base_params = resolve_params(self.robot, params)
        self.randomization = load_randomization(self.robot, randomization)
        n_obs, n_act = self.interface.obs_size, self.interface.action_size
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (n_obs,), np.float32)
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (n_act,), np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        if engine == "mujoco":
            nthread = nthread or min(os.cpu_count() or 1, 2 if num_envs >= 8 else 1)
            self.sim = _MujocoBatch(self.robot, self.base_params, num_envs, nthread)
        else:
            self.sim = _EngineLoop(self.robot, engine, self.base_params, num_envs)
        self._rng = np.random.default_rng(seed)
        n_j, S = len(self.robot.joints), self.robot.substeps
        self._params = [dict(self.base_params) for _ in range(num_envs)]
        self._privileged = np.zeros((num_envs, len(self.robot.nominal)), np.float32)
        self._obs_noise = np.zeros(num_envs)
        self._command = np.zeros((num_envs, self.interface.command_size))
        self._last_action = np.zeros((num_envs, n_act))
        self._steps = np.zeros(num_envs, dtype=np.int64)
        self._ok = self.logic.success_init(num_envs)
        # Delay realized as a gather from a short history of commands (see _delay_offsets).
        self._max_hist = 1
        self._offsets = np.zeros((num_envs, S), dtype=np.int64)
        self._history = np.zeros((num_envs, self._max_hist, len(self.robot.actuators)))
        self._control = np.zeros((num_envs, S, len(self.robot.actuators)))
        self._n_joints = n_j
        self._seeded = seed is not None

    # -- action delay: command active at substep s of this control step was issued
    #    floor((s - d) / S) control steps ago (0 = now), d = delay in substeps.
    def _set_delay(self, i: int, delay: float) -> None:
        S = self.robot.substeps
        d = int(round(delay / self.robot.physics_dt))
        back = -np.floor_divide(np.arange(S) - d, S)
        need = int(back.max()) + 1
        if need > self._max_hist:
            grown = np.zeros((self.num_envs, need, self._history.shape[2]))
            grown[:, : self._max_hist] = self._history
            self._history, self._max_hist = grown, need
        self._offsets[i] = back

    def _reset_env(self, i: int) -> None:
        rng = self._rng
        params = self.base_params
        if self.randomization is not None:
            params = self.randomization.sample_params(rng, self.base_params)
        self._params[i] = params
        self.sim.set_params(i, params)
        self._set_delay(i, params["action_delay"])
        self._obs_noise[i] = params["obs_noise"]
        self._privileged[i] = privileged_vector(self.robot, params)
        q, qd, command = self.logic.initial_state(rng, 1)
        q, qd = q[0], qd[0]
        if self.randomization is not None:
            dq, dv = self.randomization.sample_initial_offset(rng, self._n_joints)
            q, qd = q + dq, qd + dv
        self.sim.reset(i, q, qd)
        self._command[i] = command[0]
        self._last_action[i] = 0.0
        self._history[i] = 0.0
        self._steps[i] = 0
        self._ok[i] = self.logic.success_init(1)[0]

    def _observe(self) -> np.ndarray:
        q, qd = self.sim.joint_state()
        if np.any(self._obs_noise > 0):
            sd = self._obs_noise[:, None]
            q = q + self._rng.normal(size=q.shape) * sd
            qd = qd + self._rng.normal(size=qd.shape) * sd
        return self.interface.build(q, qd, self._last_action, self._command)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        for i in range(self.num_envs):
            self._reset_env(i)
        return self._observe(), {"privileged": self._privileged.copy()}

    def step(self, actions):
        actions = np.clip(np.asarray(actions, dtype=np.float64).reshape(self.num_envs, -1), -1.0, 1.0)
        commands = self.interface.action_to_command(actions)
        self._history = np.roll(self._history, 1, axis=1)
        self._history[:, 0] = commands
        rows = np.arange(self.num_envs)[:, None]
        self._control[:] = self._history[rows, self._offsets]
        self.sim.step(self._control)
        dr = self.randomization
        if dr is not None and dr.push_probability > 0 and dr.push_velocity is not None:
            for i in np.flatnonzero(self._rng.random(self.num_envs) < dr.push_probability):
                self.sim.kick(i, self._rng.uniform(-1, 1, self._n_joints) * dr.push_velocity)
        self._steps += 1
        q, qd = self.sim.joint_state()
        rewards, terminated = self.logic.reward(q, qd, actions, self._command)
        self.logic.success_update(self._ok, q, self._command, self._steps, terminated, None)
        self._last_action = actions
        truncated = (self._steps >= self.logic.episode_steps) & ~terminated
        obs = self._observe()
        done = terminated | truncated
        info: dict[str, Any] = {}
        if np.any(done):
            final_obs = np.empty(self.num_envs, dtype=object)
            final_obs[:] = None
            for i in np.flatnonzero(done):
                final_obs[i] = obs[i].copy()
            info["final_obs"], info["_final_obs"] = final_obs, done.copy()
            info["final_info"] = {"success": self._ok.copy(), "_success": done.copy(),
                                  "privileged": self._privileged.copy(), "_privileged": done.copy()}
            for i in np.flatnonzero(done):
                self._reset_env(i)
            obs = self._observe()
        info["privileged"] = self._privileged.copy()
        return obs, rewards.astype(np.float64), terminated, truncated, info

    def close_extras(self, **kwargs: Any) -> None:
        self.sim.close()
