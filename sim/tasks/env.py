"""Gymnasium env for a task on a robot in an engine: the episode core (sim/core.py) at N=1."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from sim.core import EpisodeCore, privileged_vector
from sim.params import ParamsLike
from sim.randomization import RandomizationLike
from sim.robot import RobotSpec
from sim.terrain import TerrainConfig, parse_terrain

__all__ = ["RobotTaskEnv", "privileged_vector"]


def _named(config: TerrainConfig | None) -> TerrainConfig | None:
    """The terrain as named, without its curriculum (see RobotTaskEnv's `terrain`)."""
    return None if config is None else config.without_curriculum()


class RobotTaskEnv(gym.Env):
    """One robot doing one task (see sim/tasks/<task>.py for each task's reward and success).

    `robot`: a RobotSpec, a shipped robot's name or a robot.yaml path; a task by kind (Reach-v0, Walk-v0)
    needs one, an alias (IiwaReach-v0) names its own (sim/tasks/registry.py).

    Args:
        engine: "mujoco" or "pybullet".
        randomization: DR config name ("default"), path, mapping, or None for none.
        params: params file or mapping (absolute or {scale: s}) applied before randomization.
        motor_model / actuator_net: drives other than the PD servo (sim.core.EpisodeCore; MuJoCo only).
        terrain: the ground of a legged robot, e.g. "rough" or "stairs:step_height=0.08" (sim/terrain.py);
            None or "flat": the plane. Walk on a terrain puts `terrain/level` in the episode's last info. The
            single env is where policies are evaluated: it starts on the terrain as named (its last row), a
            `curriculum=true` in the config is the vector env's (training's) and is ignored here.

    `info["privileged"]` is the critic's input (sampled physics, and for legged tasks the base
    velocity); at episode end `info["success"]` and `info["reward/<term>"]` (each weighted reward
    term summed over the episode).
    """

    # render_fps is the control rate (one frame per step); each instance sets its robot's.
    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(self, task: str, engine: str = "mujoco", randomization: RandomizationLike = None,
                 params: ParamsLike = None, robot: RobotSpec | str | None = None, render_mode: str | None = None,
                 motor_model: Any = None, actuator_net: Any = None, terrain: Any = None):
        self.core = EpisodeCore(task, 1, engine=engine, randomization=randomization, params=params, robot=robot,
                                motor_model=motor_model, actuator_net=actuator_net,
                                terrain=_named(parse_terrain(terrain)))
        c = self.core
        self.robot, self.interface, self.logic, self.task_id = c.robot, c.interface, c.logic, c.task_id
        self.engine_name, self.base_params, self.randomization = engine, c.base_params, c.randomization
        self.engine = c.sim.engines[0]
        n_obs, n_act = self.interface.obs_size, self.interface.action_size
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (n_obs,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (n_act,), np.float32)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode '{render_mode}' is not supported; expected one of "
                             f"{self.metadata['render_modes']} or None")
        self.metadata = {**self.metadata, "render_fps": int(round(self.robot.control_hz))}
        self.render_mode = render_mode
        self._renderer = None  # sim.render.SceneRenderer, built on the first render() (needs OpenGL for MuJoCo)
        self._render_options: dict[str, Any] = {}

    # -- gymnasium API -----------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obs, priv = self.core.reset(seed)
        if self._renderer is not None:
            self._renderer.reset()  # a followed base starts the episode in the middle of the picture
        return obs[0], {"privileged": priv[0]}

    def step(self, action):
        core = self.core
        obs, reward, terminated, truncated, _ = core.step_one(action)
        info: dict[str, Any] = {"privileged": core.privileged_row(0)}
        if terminated or truncated:
            info["success"] = bool(core.success()[0])
            info.update({k: float(v[0]) for k, v in core.episode_reward_terms().items()})
            if core.ground is not None:
                info["terrain/level"] = int(core.ground.levels[0])
        return obs, reward, terminated, truncated, info

    def render(self):
        """An (H, W, 3) uint8 frame of the current state (``render_mode="rgb_array"``), or None without one.

        The goal or velocity command is drawn into the scene; a floating base is followed. The
        renderer (sim/render.py) is made on the first call, so an env that never renders needs no OpenGL.
        """
        if self.render_mode is None:
            gym.logger.warn("render() called on an env made without render_mode; pass render_mode='rgb_array'")
            return None
        if self._renderer is None:
            from sim.render import SceneRenderer

            self._renderer = SceneRenderer(self, **self._render_options)
        return self._renderer.render()

    def set_render_options(self, width: int = 640, height: int = 480, shadows: bool = False) -> None:
        """Frame size and quality of `render()` (shadows and reflections cost ~3x a frame in software GL)."""
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._render_options = {"width": int(width), "height": int(height), "shadows": bool(shadows)}

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.core.close()

    # -- helpers -------------------------------------------------------------------------
    @property
    def params(self) -> dict[str, float]:
        """The physical parameters of this episode (nominal, --params, then DR)."""
        return self.core.params[0]

    def state(self):
        """The robot's RobotState now (engine truth, no noise)."""
        return self.core.sim.state().row(0)

    def _observe(self) -> np.ndarray:
        """The observation of the engine's current state (re-read: callers may have moved the robot)."""
        self.core.state = self.core.sim.state()
        return self.core.observe(self.core.state)[0]

    @property
    def command(self) -> np.ndarray:
        """The task's goal/command for this episode (e.g. the reach target, the walking velocity)."""
        return self.core.command[0].copy()
