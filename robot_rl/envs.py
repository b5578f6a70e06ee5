"""Environment construction for training and evaluation: one vector-env semantics for every task.

Our algorithms see exactly one contract, whatever the env:

* observations: 1-D ``Box``; actions: 1-D bounded ``Box`` presented to the agent as [-1, 1]
  (gymnasium envs with other bounds are wrapped in ``RescaleAction``; our own tasks already are),
  or ``Discrete`` for the algorithms made for it (DQN);
* vector envs auto-reset in ``SAME_STEP`` mode: when an env is done, the returned obs is already the
  next episode's first obs, ``info["final_obs"]`` (mask ``info["_final_obs"]``) holds the terminal obs
  and ``info["final_info"]`` the terminal infos. Algorithms bootstrap from ``final_obs`` on
  truncation and not on termination, which is only possible if the terminal obs is not lost.

Task ids: ``CartpoleSwingup-v0`` is short for ``robot_rl/CartpoleSwingup-v0``; those take
``engine=``, ``randomization=``, ``params=`` and ``robot=`` keyword arguments (``robot``: a shipped
robot's name or a robot.yaml path; a task by kind such as ``Reach-v0`` needs it, an alias such as
``IiwaReach-v0`` names its own). Any other Gymnasium id (``Pendulum-v1``, ``Hopper-v5``) is made with
``gymnasium.make`` and gets no task kwargs.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from robot_rl.errors import RobotRLError

OUR_NAMESPACE = "robot_rl"

def _our_tasks() -> tuple[str, ...]:
    """Task ids from the simulator's one registry (sim/tasks/registry.py): the aliases bound to a robot,
    then the tasks by kind of robot; none if sim is absent."""
    try:
        from sim.tasks.registry import ALL_TASKS
    except ImportError:  # pragma: no cover - sim is part of this repo
        return ()
    return ALL_TASKS


OUR_TASKS = _our_tasks()


class EnvSpecError(RobotRLError):
    """An environment id is unknown or its spaces are not what our algorithms accept."""


def resolve_env_id(task_or_id: str) -> str:
    """Map a short task name (``CartpoleSwingup-v0``, or ``Reach`` for the one ``Reach-v*``) to its
    registered id; leave other ids alone."""
    if "/" not in task_or_id and task_or_id in OUR_TASKS:
        return f"{OUR_NAMESPACE}/{task_or_id}"
    if "/" not in task_or_id and "-v" not in task_or_id:
        versions = [t for t in OUR_TASKS if t.rsplit("-v", 1)[0] == task_or_id]
        if len(versions) == 1:
            return f"{OUR_NAMESPACE}/{versions[0]}"
    return task_or_id


def task_robot(env_id: str, robot: str | None) -> str | None:
    """``--robot`` for our task ``env_id``, checked before anything is built or written: a shipped robot's
    name stays a name, a robot.yaml path (or its folder) becomes absolute, so a run's config.yaml finds it
    from any folder; None keeps an alias's own robot. A task by kind without a robot, or a robot of
    another kind, raises ``sim.tasks.spec.TaskRobotError`` (one line, naming what would do)."""
    from pathlib import Path

    from sim.robot import available_robots, resolve_robot_yaml
    from sim.tasks.registry import resolve_robot

    task = env_id.split("/", 1)[-1]
    if robot is not None and not (robot in available_robots() and not Path(robot).exists()):
        robot = str(resolve_robot_yaml(robot).resolve())
    resolve_robot(task, robot)
    return robot


def is_our_task(env_id: str) -> bool:
    return env_id.startswith(OUR_NAMESPACE + "/")


def _register_our_tasks() -> None:
    """Importing `sim` registers our tasks with Gymnasium; a missing simulator is a clear error."""
    try:
        import sim  # noqa: F401  (import registers the envs)
    except ImportError as exc:  # pragma: no cover - sim is part of this repo
        raise EnvSpecError(f"cannot import the simulator package 'sim' to build our tasks: {exc}") from exc


def task_kwargs_for(env_id: str, engine: str | None, randomization: Any, params: Any,
                    robot: Any = None) -> dict[str, Any]:
    """Keyword arguments our tasks take; gymnasium's own envs take none (they would reject them).

    ``robot``: a shipped robot's name, a robot.yaml path or a RobotSpec; None leaves the task's own (an
    alias's robot), and is not passed at all, so an alias is made exactly as before robots were a choice."""
    if not is_our_task(env_id):
        return {}
    kwargs: dict[str, Any] = {"engine": engine or "mujoco", "randomization": randomization}
    if params is not None:
        kwargs["params"] = params
    if robot is not None:
        kwargs["robot"] = robot
    return kwargs


def _check_spaces(env_id: str, obs_space: gym.Space, act_space: gym.Space) -> None:
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise EnvSpecError(
            f"{env_id}: observation space must be a 1-D Box, got {obs_space}; "
            "flatten it with gymnasium.wrappers.FlattenObservation first"
        )
    if isinstance(act_space, gym.spaces.Discrete):  # DQN's kind (CartPole-v1, Acrobot-v1, ...)
        return
    if not isinstance(act_space, gym.spaces.Box) or len(act_space.shape) != 1:
        raise EnvSpecError(
            f"{env_id}: action space must be a 1-D Box (continuous control) or Discrete, got {act_space}"
        )
    if not (np.all(np.isfinite(act_space.low)) and np.all(np.isfinite(act_space.high))):
        raise EnvSpecError(f"{env_id}: action space {act_space} is unbounded; PPO/SAC here need finite bounds")


def make_env(env_id: str, privileged_obs: bool = False, **task_kwargs: Any) -> gym.Env:
    """One env with actions in [-1, 1] (for evaluation, or as a SyncVectorEnv member).

    ``privileged_obs``: the observation is followed by the simulator's privileged state (a
    distillation teacher's input; ``PrivilegedObservation``).
    """
    env_id = resolve_env_id(env_id)
    if privileged_obs:
        return PrivilegedObservation(make_env(env_id, **task_kwargs))
    if is_our_task(env_id):
        _register_our_tasks()
    try:
        env = gym.make(env_id, **task_kwargs)
    except gym.error.Error as exc:
        raise EnvSpecError(f"cannot make env '{env_id}': {exc}") from exc
    _check_spaces(env_id, env.observation_space, env.action_space)
    if isinstance(env.action_space, gym.spaces.Discrete):
        return env
    low, high = env.action_space.low, env.action_space.high
    if not (np.allclose(low, -1.0) and np.allclose(high, 1.0)):
        # Agents always act in [-1, 1]: exported policies then have one contract for every env.
        env = gym.wrappers.RescaleAction(env, min_action=-1.0, max_action=1.0)
    return env


def make_vec_env(
    env_id: str,
    num_envs: int,
    seed: int,
    privileged_obs: bool = False,
    physics_threads: int | None = None,
    **task_kwargs: Any,
) -> gym.vector.VectorEnv:
    """A vector env with SAME_STEP autoreset for any id (see module docstring for the contract).

    Our tasks use the simulator's batched ``sim.vector.RobotVectorEnv`` when it exists (it steps all
    envs in one call into MuJoCo); everything else, and our tasks until that exists, uses
    ``gymnasium.vector.SyncVectorEnv``. ``seed`` seeds the vector env; the caller still passes it to
    the first ``reset`` for gymnasium envs (``reset(seed=seed)`` seeds member i with ``seed + i``).
    ``physics_threads`` caps the threads of one batched MuJoCo step (default: up to 2); a Ray rollout
    worker that declared one CPU passes 1, so K workers on K cores do not fight over them.
    """
    if num_envs < 1:
        raise EnvSpecError(f"num_envs must be >= 1, got {num_envs}")
    if privileged_obs:
        return PrivilegedVectorObservation(make_vec_env(env_id, num_envs, seed, **task_kwargs))
    env_id = resolve_env_id(env_id)
    if is_our_task(env_id):
        _register_our_tasks()
        robot_vector_env = _robot_vector_env_class()
        if robot_vector_env is not None:
            venv = robot_vector_env(
                env_id,
                num_envs,
                seed=seed,
                engine=task_kwargs.get("engine", "mujoco"),
                randomization=task_kwargs.get("randomization"),
                params=task_kwargs.get("params"),
                nthread=physics_threads,
                robot=task_kwargs.get("robot"),
                **{k: task_kwargs[k] for k in ("actuator_net", "motor_model") if task_kwargs.get(k) is not None},
                **({"terrain": task_kwargs["terrain"]} if task_kwargs.get("terrain") is not None else {}),
            )
            _check_spaces(env_id, venv.single_observation_space, venv.single_action_space)
            return venv
    venv = gym.vector.SyncVectorEnv(
        [_env_thunk(env_id, task_kwargs) for _ in range(num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    return venv


def _env_thunk(env_id: str, task_kwargs: dict[str, Any]):
    def thunk() -> gym.Env:
        return make_env(env_id, **task_kwargs)

    return thunk


def _robot_vector_env_class():
    """``sim.vector.RobotVectorEnv`` if the simulator provides it yet, else None (fall back to Sync)."""
    try:
        from sim.vector import RobotVectorEnv
    except ImportError:
        return None
    return RobotVectorEnv


def final_observations(info: dict[str, Any], done: np.ndarray, obs_dim: int) -> np.ndarray:
    """The terminal observation of every done env, stacked ``(num_done, obs_dim)`` float32.

    SyncVectorEnv gives ``final_obs`` as an object array (None where not done); a batched env may
    give a float array. Both come with the mask ``_final_obs``.
    """
    idx = np.flatnonzero(done)
    if len(idx) == 0:
        return np.zeros((0, obs_dim), dtype=np.float32)
    if "final_obs" not in info:
        raise EnvSpecError(
            "vector env reported a done episode without info['final_obs']; it must auto-reset in "
            "SAME_STEP mode (make it with robot_rl.envs.make_vec_env)"
        )
    final = info["final_obs"]
    if final.dtype == object:
        return np.stack([np.asarray(final[i], dtype=np.float32) for i in idx])
    return np.asarray(final[idx], dtype=np.float32)


def final_info_value(info: dict[str, Any], key: str, done: np.ndarray) -> np.ndarray | None:
    """``final_info[key]`` for the done envs, or None where the env does not report that key."""
    final_info = info.get("final_info")
    if not isinstance(final_info, dict) or key not in final_info:
        return None
    mask = final_info.get(f"_{key}")
    idx = np.flatnonzero(done)
    if mask is not None and not np.all(np.asarray(mask)[idx]):
        return None
    return np.asarray(final_info[key])[idx]


PRIVILEGED_KEY = "privileged"


def _privileged_box(obs_space: gym.spaces.Box, priv: np.ndarray) -> gym.spaces.Box:
    k = int(np.asarray(priv).shape[-1])
    low = np.concatenate([obs_space.low, np.full(k, -np.inf)]).astype(np.float32)
    high = np.concatenate([obs_space.high, np.full(k, np.inf)]).astype(np.float32)
    return gym.spaces.Box(low, high, dtype=np.float32)


def _need_privileged(info: dict[str, Any], env_id: str) -> np.ndarray:
    if PRIVILEGED_KEY not in info:
        raise EnvSpecError(f"{env_id}: privileged observations need info['privileged'] from the env; it has none")
    return np.asarray(info[PRIVILEGED_KEY], dtype=np.float32)


class PrivilegedObservation(gym.Wrapper):
    """``obs -> [obs, info['privileged']]``: what a privileged teacher sees (the sampled physics).

    A policy trained on this cannot run on a robot (the robot reports no masses or delays); it is
    the teacher that ``robot-rl distill`` imitates with a student on the plain observation.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        _, info = env.reset(seed=0)
        self.observation_space = _privileged_box(env.observation_space, _need_privileged(info, str(env.spec)))

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        return np.concatenate([obs, _need_privileged(info, str(self.env.spec))]).astype(np.float32), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        obs = np.concatenate([obs, _need_privileged(info, str(self.env.spec))]).astype(np.float32)
        return obs, reward, terminated, truncated, info


class PrivilegedVectorObservation(gym.vector.VectorWrapper):
    """The vector form of ``PrivilegedObservation``, terminal observations (``final_obs``) included."""

    def __init__(self, env: gym.vector.VectorEnv):
        super().__init__(env)
        _, info = env.reset(seed=0)
        priv = _need_privileged(info, "vector env")
        self.single_observation_space = _privileged_box(env.single_observation_space, priv[0])
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, env.num_envs)

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        return np.concatenate([obs, _need_privileged(info, "vector env")], -1).astype(np.float32), info

    def step(self, actions):
        obs, reward, terminated, truncated, info = self.env.step(actions)
        obs = np.concatenate([obs, _need_privileged(info, "vector env")], -1).astype(np.float32)
        done = np.asarray(terminated) | np.asarray(truncated)
        if done.any():
            # The terminal obs is followed by the finished episode's own privileged state.
            final_priv = final_info_value(info, PRIVILEGED_KEY, done)
            final = np.empty(self.num_envs, dtype=object)
            final[:] = None
            obs_dim = self.env.single_observation_space.shape[0]
            lasts = final_observations(info, done, obs_dim)
            for j, (i, last) in enumerate(zip(np.flatnonzero(done), lasts, strict=True)):
                priv = final_priv[j] if final_priv is not None else info[PRIVILEGED_KEY][i]
                final[i] = np.concatenate([last, priv]).astype(np.float32)
            info = {**info, "final_obs": final, "_final_obs": done.copy()}
        return obs, reward, terminated, truncated, info


def hold_action(env: Any) -> np.ndarray:
    """The action, in [-1, 1], that commands each position actuator of one of our robot tasks to the joint
    position the task starts its episodes in (0 for a force actuator); PPO's ``init_action: hold`` starts
    its actor there (``OnPolicyAlgorithm.start_actions_at``).

    Why: an action of 0 is the middle of each joint's target range, which for an arm is far from where its
    episodes start (the iiwa straight up, its Reach goals in front at the height of its home pose), so a
    policy that starts at 0 spends its first several hundred thousand steps unlearning that offset.
    ``env`` is a vector env of ours (sim.vector.RobotVectorEnv, possibly wrapped); EnvSpecError otherwise.
    """
    inner = _our_task_env(env, "init_action 'hold' needs one of our robot tasks (--task), which know the pose an "
                                "episode starts in; {name} does not: use --set init_action=zero")
    robot, interface = inner.robot, inner.interface
    q = np.asarray(inner.logic.initial_state(np.random.default_rng(0), 16)[0], dtype=float).mean(axis=0)
    start = q[robot.actuator_joint_indices()]
    position = np.array([a.type == "position" for a in robot.actuators])
    action = (start - np.asarray(interface.action_offset)) / np.asarray(interface.action_scale)
    return np.clip(np.where(position, action, 0.0), -1.0, 1.0).astype(np.float32)


def _our_task_env(env: Any, refusal: str) -> Any:
    """The RobotVectorEnv inside `env` (through wrappers); EnvSpecError(refusal, {name} = env's type) if none."""
    inner = env
    while not hasattr(inner, "logic") and hasattr(inner, "env"):
        inner = inner.env
    if not all(hasattr(inner, name) for name in ("logic", "interface", "robot")):
        raise EnvSpecError(refusal.format(name=type(env).__name__))
    return inner


def mirror_maps(env: Any) -> tuple[np.ndarray, np.ndarray]:
    """(observation, action) mirror matrices of a Walk env's robot (sim.symmetry): PPO's symmetry options.

    EnvSpecError when the env is not one of our Walk tasks, when its observation carries more than the task's
    own (privileged_obs appends the simulator's state, which has no mirror rule), or when the robot is not
    left-right symmetric (the message names the joint)."""
    from sim.symmetry import SymmetryError, walk_mirror

    off = "train without it (--set symmetry_augment=false --set symmetry_coef=0)"
    inner = _our_task_env(env, "PPO's symmetry needs one of our Walk tasks (--task Walk-v0 or an alias of it); "
                               "{name} is not one: " + off)
    try:
        mirror = walk_mirror(inner.robot, inner.interface)
    except SymmetryError as err:
        raise EnvSpecError(f"PPO's symmetry: {err}") from None
    obs_size = env.single_observation_space.shape[0]
    if obs_size != mirror.obs.shape[0]:
        raise EnvSpecError(f"PPO's symmetry mirrors the task's {mirror.obs.shape[0]} observations, but this env "
                           f"returns {obs_size} (privileged_obs appends simulator state, which has no mirror): "
                           "drop privileged_obs (the asymmetric critic sees that state anyway) or " + off)
    return mirror.obs, mirror.action
