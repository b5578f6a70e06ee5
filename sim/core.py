"""The one episode core: N robots doing one task, batched. The single env is this at N=1.

Why one: reset, domain randomization, initial state, pushes, observation noise, action delay,
reward terms and success were written twice (single and vector env) and drifted. Here they exist
once, on arrays with a leading batch dimension, over a `sim.engines.batch.BatchEngine`: MuJoCo's
threaded `mujoco.rollout` for a batch, a loop over single engines for PyBullet and small N. How the
physics advances is the engines' business; the core calls only that protocol.

`action_delay` is realized here by `sim.actuators.ActionDelay`: the batch gets the per-substep commands
it lays out (the engines' own delay is set to 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.actuators import ActionDelay
from sim.engines.batch import BatchEngine, make_batch
from sim.errors import ConfigError
from sim.motor_model import resolve_torque_model
from sim.observations import task_interface
from sim.params import ParamsLike, resolve_params
from sim.randomization import RandomizationLike, load_randomization
from sim.robot import RobotSpec
from sim.state import ImuState, RobotState
from sim.tasks.logic import TaskLogic
from sim.tasks.registry import bind_task
from sim.terrain import make_terrain, parse_terrain
from sim.terrain_curriculum import TerrainPlacement


def privileged_vector(robot: RobotSpec, params: dict[str, float]) -> np.ndarray:
    """The sampled physics as a fixed-size vector for an asymmetric critic.

    Each parameter relative to its nominal value (1 = nominal); parameters whose nominal is 0
    (delay, noise, some frictions, centre-of-mass offsets) in natural small units: delay in
    control steps, others x100.
    """
    return np.asarray(_privileged_values(_privileged_layout(robot), params), dtype=np.float32)


def _privileged_layout(robot: RobotSpec) -> list[tuple[str, float, float | None]]:
    """(name, nominal, factor) per parameter: the value is divided by its nominal (factor None) or times factor."""
    return [(name, nominal, None if nominal > 0 else robot.control_hz if name == "action_delay" else 100.0)
            for name, nominal in robot.nominal.items()]


def _privileged_values(layout: list[tuple[str, float, float | None]], params: dict[str, float]) -> list[float]:
    return [params[name] / nominal if factor is None else params[name] * factor for name, nominal, factor in layout]


def _scaled(noise: np.ndarray, scale: float) -> np.ndarray:
    """noise * scale, skipped where scale is 1: x * 1.0 is x, bit for bit, and each product is a 1-2 us
    ufunc at N=64."""
    return noise if scale == 1.0 else noise * scale


@dataclass
class StepResult:
    """One batched step. `obs` is of the state after the step (before any autoreset)."""

    obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    terms: dict[str, np.ndarray] = field(default_factory=dict)  # weighted reward terms of this step


class EpisodeCore:
    """N robots doing `task`: reset (with DR), step (delay, pushes, reward terms), observe (with noise).

    Args mirror the Gymnasium envs: engine "mujoco" | "pybullet"; randomization: DR config name,
    path, mapping or None; params: params file or mapping applied before DR; seed seeds the one
    numpy Generator every random draw comes from (same seed, same episodes); robot: a RobotSpec, a
    shipped robot's name or a robot.yaml path (default: an alias's robot; a task by kind such as
    Reach-v0 needs one, and refuses a robot of another kind). motor_model ('default', a YAML file or
    mapping) or actuator_net (a `robot-rl sysid --actuator-net` file): drives computed every physics
    step instead of the PD servo (sim/motor_model.py, sim/actuator_net.py; MuJoCo only). terrain: the
    ground of a legged robot (sim/terrain.py: a name such as "rough", "stairs:step_height=0.08", a YAML
    file or a mapping; None or "flat": the plane, exactly as without one); robots start on their tile and
    a terrain with `curriculum=true` moves them between its rows (sim/terrain_curriculum.py).
    """

    def __init__(self, task: str, num_envs: int, *, engine: str = "mujoco", randomization: RandomizationLike = None,
                 params: ParamsLike = None, seed: int | None = None, robot: RobotSpec | str | None = None,
                 nthread: int | None = None, motor_model: Any = None, actuator_net: Any = None,
                 terrain: Any = None):
        # The task bound to its robot (a task by kind takes any robot of its kind; an alias names its own):
        # settings that depend on the robot (a reach's goal box, a walk's command ranges) resolved.
        self.spec, self.robot = bind_task(task, robot)
        self.task_id = self.spec.id
        self.interface = task_interface(self.spec.id, self.robot)
        self.logic = self.spec.logic(self.robot, self.interface, self.spec)
        self.logic.bind(num_envs)
        self.num_envs = n = num_envs
        self.engine_name = engine
        self.base_params = resolve_params(self.robot, params)
        self.randomization = load_randomization(self.robot, randomization)
        r = self.robot
        self.delay = ActionDelay(n, len(r.actuators), r.substeps, r.physics_dt)
        self.torque_model = resolve_torque_model(r, motor_model, actuator_net)
        self.terrain_config = parse_terrain(terrain)
        self.terrain = self.ground = None  # the Terrain; where each robot stands on it (TerrainPlacement)
        if self.terrain_config is not None:
            if r.base is None:
                raise ConfigError(self.terrain_config.source, "terrain", f"robot '{r.name}' has no floating base "
                                  "to stand on a terrain; leave the terrain out (flat) for a fixed-base robot")
            self.terrain = make_terrain(self.terrain_config)
            self.ground = TerrainPlacement(self.terrain, r, n, self.spec.episode_steps / r.control_hz)
        self.sim: BatchEngine = make_batch(r, engine, self.base_params, n, delay=self.delay, nthread=nthread,
                                           torque_model=self.torque_model, terrain=self.terrain)
        self.rng = np.random.default_rng(seed)
        self.params = [dict(self.base_params) for _ in range(n)]
        self.physics = np.zeros((n, len(r.nominal)), np.float32)
        self._privileged_layout = _privileged_layout(r)  # privileged_vector's, laid out once: it runs at every reset
        self.obs_noise = np.zeros(n)
        self._noise_on = False
        self._n_noisy = 0  # robots with obs_noise > 0 (counted as episodes reset, not recounted)
        self._joint_noise_first = [c for c, _ in self.interface.noise[:2]] == ["q", "qd"]  # see `_noisy`
        self.command = np.zeros((n, self.interface.command_size))
        self.last_action = np.zeros((n, self.interface.action_size))
        self.steps = np.zeros(n, dtype=np.int64)
        self.tracker = self.logic.success_init(n)
        self._tracker_init = self.logic.success_init(1)[0]  # one robot's fresh tracker, copied in at each reset
        self.term_names = tuple(self.spec.reward)
        self.term_weights = np.array([self.spec.reward[k] for k in self.term_names])
        self._weights = tuple(float(w) for w in self.term_weights)  # floats: cheap on a single env's float terms
        self._terms = tuple((j, k, w) for j, (k, w) in enumerate(zip(self.term_names, self._weights, strict=True)))
        # Action scaling as float lists over the whole batch (robot after robot), for `_action_values`.
        self._act_offset = self.interface.action_offset.tolist() * n
        self._act_scale = self.interface.action_scale.tolist() * n
        self.episode_terms = np.zeros((n, len(self.term_names)))
        # The SafetyFilter's rate rule in the loop (TaskSpec config `rate_limited_targets`): each
        # position target moves at most velocity_limit * control period from the previous one, so
        # the policy learns the motion the filter will let through on the robot.
        self.target_rate = (np.array(r.target_max_change()) if self.spec.config.get("rate_limited_targets")
                            else None)
        self._act_joints = r.actuator_joint_indices()
        self.prev_target = np.zeros((n, len(r.actuators)))
        self.state: RobotState | None = None
        self._task_privileged = type(self.logic).privileged is not TaskLogic.privileged
        dr = self.randomization
        self._pushes = dr is not None and dr.push_probability > 0 and (dr.push_velocity is not None
                                                                       or dr.push_base_velocity is not None)

    # -- episodes ------------------------------------------------------------------------
    def reset_env(self, i: int) -> None:
        """A new episode for robot i: physics (DR), delay, initial state and command, trackers."""
        rng, dr = self.rng, self.randomization
        params = self.base_params if dr is None else dr.sample_params(rng, self.base_params)
        self.params[i] = params
        self.sim.set_params(i, params)
        self.delay.set_delay(i, params["action_delay"])
        self.delay.reset(i)
        noise = params["obs_noise"]
        if (noise > 0) != (self.obs_noise.item(i) > 0):
            self._n_noisy += 1 if noise > 0 else -1
            self._noise_on = self._n_noisy > 0
        self.obs_noise[i] = noise
        self.physics[i] = _privileged_values(self._privileged_layout, params)  # = privileged_vector(robot, params)
        q, qd, command = self.logic.initial_state(rng, 1)
        q, qd = q[0], qd[0]
        if dr is not None:
            dq, dv = dr.sample_initial_offset(rng, len(q))
            q, qd = q + dq, qd + dv
        if self.ground is None:
            self.sim.reset(i, q, qd)
        else:  # the last episode's distance moves the level (its command is still self.command[i]), then a start
            if self.state is not None:
                self.ground.update_level(i, self.state.base.position[i], self.command[i], rng,
                                         float(self.steps[i]) / self.robot.control_hz)
            self.sim.reset(i, q, qd, self.ground.start_base(i, rng))
        self.prev_target[i] = q[self._act_joints]  # where the filter's rate limit starts: the measured pose
        self.command[i] = command[0]
        self.last_action[i] = 0.0
        self.steps[i] = 0
        self.tracker[i] = self._tracker_init
        self.logic.reset_envs(np.array([i]))
        self.episode_terms[i] = 0.0

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Every robot starts an episode; (observations, privileged)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        for i in range(self.num_envs):
            self.reset_env(i)
        self.state = self.sim.state()
        return self.observe(self.state), self.privileged(self.state)

    def step(self, actions: np.ndarray) -> StepResult:
        """Advance every robot one control step with actions in [-1, 1] (no autoreset here)."""
        n = self.num_envs
        if n == 1:
            obs, reward, terminated, truncated, terms = self.step_one(actions)
            return StepResult(obs[None], np.array([reward]), np.array([terminated]), np.array([truncated]), terms)
        actions, commands = self._actions_and_commands(actions)
        if self.target_rate is not None:
            commands = self._rate_limited(commands)
        self.sim.step(self.delay.control(commands))
        self._push()
        self.steps = self.steps + 1
        state = self.state = self.sim.state()
        raw = self.logic.reward_terms(state, actions, self.last_action, self.command)
        terms, reward = {}, 0.0
        for j, (k, w) in enumerate(zip(self.term_names, self._weights, strict=True)):
            term = terms[k] = w * raw[k]
            reward = reward + term  # in the TaskSpec's order: the sum is reproducible
            self.episode_terms[:, j] += term
        terminated = self.logic.terminated(state)
        self.logic.success_update(self.tracker, state, self.command, self.steps, terminated)
        self.last_action = actions
        truncated = (self.steps >= self.spec.episode_steps) & ~terminated
        if self.ground is not None:  # walked to the terrain's edge: a time-out, not a failure (Isaac Lab's)
            truncated |= self.ground.out_of_bounds(state.base.position) & ~terminated
        reward = reward if isinstance(reward, np.ndarray) else np.full(n, reward)
        return StepResult(self.observe(state), reward, terminated, truncated, terms)

    def step_one(self, action) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """`step` of the one robot of a core with N=1, with Python scalars out: the single env's step.

        Returns (observation (obs_size,), reward, terminated, truncated, weighted reward terms).
        Why not `step`: at N=1 numpy's per-call overhead on 1-element arrays is most of the Python
        around the physics (a cart-pole control step at 5 ms costs ~8 us of physics), so the bookkeeping
        here is float math and element writes, and the (1,)-arrays a StepResult holds are never built.
        The physics, pushes, reward terms, termination and success are the same calls on the same
        values as `step`'s, so the episode is the same bit for bit (`step` at N=1 is this, wrapped).
        A task may compute one robot with float math: a reward term may then be a float and
        `terminated` a bool (the task's `success_update` is handed back what `terminated` returned).
        """
        clipped, commands = self._action_values(action)
        actions = np.array([clipped])
        if self.target_rate is not None:
            commands = self._rate_limited(np.array([commands]))[0].tolist()
        if self.delay.any_delayed:
            self.sim.step(self.delay.control(np.array([commands])))
        else:  # the step's command for every substep: no history to keep (ActionDelay.control reads none)
            self.sim.step_one(commands)
        if self._pushes:
            self._push()
        steps = self.steps
        step = steps.item(0) + 1
        steps[0] = step  # an element write, not a 1-element ufunc
        state = self.state = self.sim.state()
        raw = self.logic.reward_terms(state, actions, self.last_action, self.command)
        terms, reward, totals = {}, 0.0, self.episode_terms
        for j, k, w in self._terms:
            term = terms[k] = w * raw[k]
            reward = reward + term  # in the TaskSpec's order, as in `step`
            totals[0, j] += term if isinstance(term, float) else term.item()
        terminated = self.logic.terminated(state)
        self.logic.success_update(self.tracker, state, self.command, steps, terminated)
        self.last_action = actions
        done = terminated if isinstance(terminated, bool) else bool(terminated.item(0))
        truncated = step >= self.spec.episode_steps and not done
        if self.ground is not None and not done:
            truncated = truncated or bool(self.ground.out_of_bounds(state.base.position)[0])
        reward = reward.item() if isinstance(reward, np.ndarray) else float(reward)
        return self.observe(state)[0], reward, done, truncated, terms

    def _rate_limited(self, commands: np.ndarray) -> np.ndarray:
        """(n, n_act) commands moved at most `target_rate` from the previous targets, which they become."""
        prev, rate = self.prev_target, self.target_rate
        self.prev_target = prev + np.minimum(np.maximum(commands - prev, -rate), rate)
        return self.prev_target

    def _push(self) -> None:
        """Random impulsive pushes of this step (DR `push`): each robot with the push probability."""
        dr = self.randomization
        if dr is None or not self._pushes:
            return
        for i in (self.rng.random(self.num_envs) < dr.push_probability).nonzero()[0]:  # = np.flatnonzero, cheaper
            if dr.push_velocity is not None:
                self.sim.kick(i, self.rng.uniform(-1, 1, len(self.robot.joints)) * dr.push_velocity)
            if dr.push_base_velocity is not None:
                self.sim.kick_base(i, self.rng.uniform(-1, 1, 3) * dr.push_base_velocity)

    def _actions_and_commands(self, actions) -> tuple[np.ndarray, np.ndarray]:
        """(actions clipped to [-1, 1], actuator commands), new float64 (n, n_act) arrays; ValueError on NaN/inf.

        The commands are `TaskInterface.scale_action` of the clipped actions. A few values are
        checked, clipped and scaled as Python floats (`_action_values`): on small arrays numpy's
        per-call overhead costs more than the arithmetic; the float arithmetic is the same, so are the results.
        """
        n, a = self.num_envs, np.asarray(actions)
        if a.size <= 32:
            clipped, commands = self._action_values(a)
            return (np.array(clipped, dtype=np.float64).reshape(n, -1),
                    np.array(commands, dtype=np.float64).reshape(n, -1))
        a = np.asarray(a, dtype=np.float64).reshape(n, -1)
        if not np.isfinite(a).all():
            raise ValueError(f"action contains NaN/inf: {a}")
        a = np.minimum(np.maximum(a, -1.0), 1.0)
        return a, self.interface.scale_action(a)

    def _action_values(self, actions) -> tuple[list[float], list[float]]:
        """(clipped actions, actuator commands) as flat lists of floats, robot after robot; ValueError on NaN/inf."""
        a = np.asarray(actions)
        values = a.ravel().tolist()
        if len(values) != len(self._act_scale):
            raise ValueError(f"expected {self.num_envs} x {self.interface.action_size} actions, "
                             f"got an array of shape {a.shape}")
        clipped, commands = [], []
        # One loop, no comprehensions: on the single env's one value the list machinery was most of the cost.
        for v, offset, scale in zip(values, self._act_offset, self._act_scale, strict=True):
            if not -1.0 <= v <= 1.0:  # = min(max(v, -1), 1) for finite v; NaN fails every comparison
                if not math.isfinite(v):
                    raise ValueError(f"action contains NaN/inf: {a}")
                v = 1.0 if v > 1.0 else -1.0
            clipped.append(v)
            commands.append(offset + scale * v)
        return clipped, commands

    def success(self) -> np.ndarray:
        return self.logic.success_of(self.tracker)

    def episode_reward_terms(self) -> dict[str, np.ndarray]:
        """Each weighted reward term summed over the current episodes: `reward/<term>`."""
        return {f"reward/{k}": self.episode_terms[:, j].copy() for j, k in enumerate(self.term_names)}

    # -- what the policy and the critic see --------------------------------------------
    def observe(self, state: RobotState) -> np.ndarray:
        """The task's observation of `state`, with each robot's `obs_noise` on the channels it names."""
        if self._noise_on:
            state = self._noisy(state)
        return self.interface.observe(state, self.last_action, self.command)

    def sensed_state(self) -> RobotState:
        """The current state as the robots' sensors report it: this episode's `obs_noise` on the
        channels the task names (joints, IMU). A simulated robot publishes this, so a deployed
        policy sees the noise it trained with."""
        return self._noisy(self.state) if self._noise_on else self.state

    def _noisy(self, state: RobotState) -> RobotState:
        sd = self.obs_noise[:, None]
        q, qd, imu = state.q, state.qd, state.imu
        channels = self.interface.noise
        if self._joint_noise_first:
            # q's then qd's normals in one draw (the same stream: q's block, then qd's), scaled in one product:
            # two numpy calls fewer, twice a step in a vector env (observations before and after autoreset).
            noise = self.rng.normal(size=(2, *q.shape)) * sd
            (_, q_scale), (_, qd_scale), *channels = channels
            q, qd = q + _scaled(noise[0], q_scale), qd + _scaled(noise[1], qd_scale)
        for channel, scale in channels:
            if channel == "q":
                q = q + _scaled(self.rng.normal(size=q.shape) * sd, scale)
            elif channel == "qd":
                qd = qd + _scaled(self.rng.normal(size=qd.shape) * sd, scale)
            elif channel == "gyro" and imu is not None:
                imu = ImuState(imu.orientation, imu.angular_velocity + self.rng.normal(size=(len(sd), 3)) * sd * scale,
                               imu.linear_acceleration)
            elif channel == "orientation" and imu is not None:
                quat = imu.orientation + self.rng.normal(size=(len(sd), 4)) * sd * scale
                imu = ImuState(quat / np.linalg.norm(quat, axis=-1, keepdims=True), imu.angular_velocity,
                               imu.linear_acceleration)
        return RobotState(state.joint_names, q, qd, state.tau, state.base, imu, state.foot_names, state.foot_forces,
                          state.base_force)

    def privileged(self, state: RobotState) -> np.ndarray:
        """The critic's extra input: sampled physics, plus the task's per-step truth (e.g. base velocity)."""
        extra = self.logic.privileged(state)
        if self.ground is not None and self.ground.height_scan:  # around the feet: the critic's only, never the actor's
            scan = self.ground.scan(state.base.position, state.base.orientation)
            extra = scan if extra is None else np.concatenate([extra, scan], axis=1)
        return self.physics.copy() if extra is None else np.concatenate([self.physics, extra], axis=1)

    def privileged_row(self, i: int) -> np.ndarray:
        """Robot i's critic input now (the single env's per-step info)."""
        if self._task_privileged or (self.ground is not None and self.ground.height_scan):
            return self.privileged(self.state)[i]
        return self.physics[i].copy()

    def close(self) -> None:
        self.sim.close()


__all__ = ["EpisodeCore", "StepResult", "privileged_vector"]
