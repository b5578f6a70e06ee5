"""A simulated robot behind the interface of a ros2_control robot, to play the real one.

It publishes what a ros2_control stack publishes -- ``/joint_states`` (sensor_msgs/JointState,
from the joint_state_broadcaster) and, in simulation, ``/clock`` (sim time) -- and takes what a
forward command controller takes: ``std_msgs/Float64MultiArray`` with one value per actuator,
in robot.yaml order, on ``/forward_command_controller/commands``. A command of the wrong length
or with NaN is rejected and the previous one kept, as ros2_control's controller does.

The physics is a task env (``gymnasium.make("robot_rl/<task>", engine=..., params=...,
randomization=...)``), so the simulator can carry a reality gap: a params file shifts the
physical parameters, domain randomization resamples them each episode, and ``obs_noise`` adds
the task's sensor noise to the published joint states.

The joints are read as a real robot reads them (`robot_rl.deploy.sensor_model`): encoder counts
with jitter (14 bits per revolution, 10 um on a prismatic joint) and a drive's noisy velocity, and a
legged robot's IMU with a MEMS part's noise, on top of ``obs_noise``. ``ideal_sensors``
(``--ideal-sensors``) publishes the engine's values unchanged instead; the run's summary says which.

Episodes use the task's own initial states, reward and success, so ``--episodes N`` scores a
deployed policy exactly as ``robot-rl eval`` scores it in simulation, but through the whole deploy chain.

A legged robot (a task that observes an IMU, e.g. A1Walk-v0 on the A1) also publishes its IMU as
``sensor_msgs/Imu`` on ``/imu/data`` (stamped like the joint states, frame ``imu_link``), with
the same sensor noise model the task trains with (``obs_noise`` per channel) plus the IMU part's
own (the sensor model above), and plays the operator: the episode's sampled velocity command goes
out on ``/cmd_vel`` as a ``geometry_msgs/Twist`` before each state, so the task's success (tracking
that command) is scored through the node as in ``robot-rl eval``.

Each episode's states carry ``header.frame_id = robot_rl/episode/<n>``: a policy node following
episodes ramps in again from the new initial state instead of faulting on the jump.

The simulated robot obeys the e-stop as a robot's safety circuit would, whatever its controller
sends: ``/estop`` (std_msgs/Bool, read durably like the control node does, so a latched press made
before it started counts) true makes it ignore commands and apply the SafetyFilter's fault action
instead -- zero force, hold the position of the moment of the press, damping (targets following the
measured positions) on a legged robot -- until the e-stop is released.

Two clocks:
* real time (default): one control step per period of wall time (``realtime_factor`` scales
  it), using the latest command -- what a real robot does;
* lockstep: after each state, wait for the command that answers it (up to
  ``command_timeout`` of wall time, then keep the last one), then step: deterministic, and as
  fast as the policy node answers.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from robot_rl.deploy.joint_map import episode_frame_id
from robot_rl.deploy.recorder import DEFAULT_COMMAND_TOPIC
from robot_rl.deploy.ros2_msgs import (
    Bool,
    Clock,
    Float64MultiArray,
    Header,
    Imu,
    JointState,
    Point,
    PointStamped,
    Quaternion,
    Twist,
    Vector3,
    time_from_ns,
)
from robot_rl.deploy.sensor_model import SensorModel, Sensors
from robot_rl.deploy.transport import Transport, subscribe_durable

log = logging.getLogger(__name__)


@dataclass
class SimRobotConfig:
    # A shipped robot's name or a robot.yaml path; None: the robot the alias `task` names (sim.tasks.registry
    # ALIASES), so that no robot is a default of the code: with neither, the node says what to give.
    robot: str | None = None
    engine: str = "pybullet"
    task: str | None = None  # default: the robot's first task (sim.tasks.registry.tasks_for)
    params: str | None = None  # params file (absolute values or {scale: s})
    randomization: str | None = None  # DR config name or file; None: nominal physics
    terrain: str | None = None  # legged robots' ground (sim/terrain.py: "rough", "stairs:step_height=0.08", a file)
    # Motors the PD servo cannot express ('default' or a YAML file, sim/motor_model.py; MuJoCo only): a torque-speed
    # envelope, a current lag, backlash. None: the robot.yaml PD servos.
    motor_model: str | None = None
    seed: int = 0
    episodes: int | None = None  # None: run until stopped
    episode_steps: int | None = None  # cut each episode after this many control steps (None: the task's length)
    lockstep: bool = False
    realtime_factor: float = 1.0
    command_timeout: float = 0.5  # lockstep: wall seconds to wait for the answer to a state
    wait_for_controller: bool = True  # hold the first state until a first command arrives
    # Never end an episode at the task's time limit (only on a termination): a robot driven by a
    # free command source, e.g. an identification run, must not jump back home every episode.
    continuous: bool = False
    state_topic: str = "/joint_states"
    command_topic: str = DEFAULT_COMMAND_TOPIC
    clock_topic: str = "/clock"
    imu_topic: str = "/imu/data"  # legged robots
    cmd_vel_topic: str = "/cmd_vel"  # legged robots: the episode's command, as an operator would send it
    goal_topic: str = "/goal_point"  # the episode's goal, for tasks with one (the reach)
    estop_topic: str = "/estop"  # std_msgs/Bool, true = pressed: commands are ignored, the safe action applied
    publish_clock: bool = True
    # True: publish the engine's joint (and IMU) values as they are; False: through the sensor model
    # (encoder counts and noise, robot_rl.deploy.sensor_model), as a real robot reports them.
    ideal_sensors: bool = False
    # DART (Laskey et al. 2017): the actuators execute the command plus N(0, action_noise^2) per step, in the
    # policy's action units ([-1, 1] spans the actuator's range; the sum clipped to it). The commands, and so a
    # recording's labels, stay the controller's own clean actions after its SafetyFilter; only the motion,
    # and so the recorded states, carry the noise: demonstrations that include recoveries from small errors.
    action_noise: float = 0.0
    node_name: str = "sim_robot"


@dataclass
class EpisodeResult:
    episode: int
    ret: float
    success: bool
    steps: int
    final_goal_distance: float | None = None  # m, for tasks with a goal position (the reach)


# Among the tasks a robot fits, the one a sim robot runs unless told: a cart-pole's swing-up (it starts hanging
# and ends balanced, the whole of the cart-pole's job; the balance task is its second half).
PREFERRED_TASKS = ("PoleSwingup-v0",)


def default_task(robot) -> str:
    """The task a sim robot runs unless told (a RobotSpec's): the preferred task by kind it fits, else the first,
    under the alias id naming this robot where the alias table has one (the id its shipped policy's card
    carries); '' if it fits none."""
    from sim.robot import ROBOTS_DIR
    from sim.tasks.registry import ALIASES, GENERIC_TASKS, tasks_for

    by_kind = [t for t in tasks_for(robot) if t in GENERIC_TASKS]
    if not by_kind:
        return ""
    task = next((t for t in PREFERRED_TASKS if t in by_kind), by_kind[0])
    shipped = robot.yaml_path.resolve() == (ROBOTS_DIR / robot.name / "robot.yaml").resolve()
    return next((a for a, (t, r) in ALIASES.items() if shipped and t == task and r == robot.name), task)


def robot_of(config: SimRobotConfig) -> str:
    """The robot to simulate: the config's, else the one its alias task names; a ConfigError if neither says."""
    from sim.errors import ConfigError
    from sim.tasks.registry import task_spec

    if config.robot:
        return config.robot
    if not config.task:
        raise ConfigError("robot", "", "no robot given: pass --robot (a shipped robot's name, `robot-rl robots` lists "
                          "them, or a robot.yaml path), or a --task alias that names one")
    try:
        robot = task_spec(config.task).robot
    except ValueError as exc:
        raise ConfigError("task", "", str(exc)) from None
    if robot is None:
        raise ConfigError("robot", "", f"task '{config.task}' is written for a kind of robot and names none: pass "
                          "--robot (a shipped robot's name or a robot.yaml path)")
    return robot


def summarize(
    results: list[EpisodeResult], config: SimRobotConfig | None = None, task: str | None = None,
    sensors: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The evaluation summary with the keys of `robot-rl eval --json` (robot_rl.training.evaluation),
    plus what was evaluated. Episode i used seed + i there and here, so the two compare episode
    for episode. `sensors` (`SimRobot.describe_sensors()`) says what the published states went
    through; without it, the config's `ideal_sensors` does, in brief."""
    from robot_rl.training.evaluation import summarize_episodes

    if results:
        summary = summarize_episodes([r.ret for r in results], [r.steps for r in results], [r.success for r in results])
        distances = [r.final_goal_distance for r in results if r.final_goal_distance is not None]
        if distances:  # what an arm's user asks first: how far from the goal did it stop?
            summary["final_goal_distance"] = distances
            summary["mean_final_goal_distance"] = float(np.mean(distances))
            summary["max_final_goal_distance"] = float(np.max(distances))
    else:  # stopped before an episode finished
        summary = {"mean_return": math.nan, "std_return": math.nan, "min_return": math.nan, "max_return": math.nan,
                   "mean_length": math.nan, "success_rate": None, "episodes": 0, "returns": []}
    if config is not None:
        summary.update(
            {
                "env_id": f"robot_rl/{task or config.task}",
                "engine": config.engine,
                "randomize": config.randomization,
                "params": config.params,
                "terrain": config.terrain,
                "motor_model": config.motor_model,
                "action_noise": config.action_noise,
                "seed": config.seed,
                "through": "deploy chain (sim robot + policy node)",
                "clock": "lockstep" if config.lockstep else f"real time x{config.realtime_factor:g}",
                "sensors": sensors or SensorModel(ideal=config.ideal_sensors).describe(),
            }
        )
    return summary


class SimRobot:
    """Steps a task env from command messages and publishes its joint states and clock."""

    def __init__(self, transport: Transport, config: SimRobotConfig, sensors: SensorModel | None = None) -> None:
        """`sensors`: the sensor model (default: `SensorModel()`'s encoders and IMU, or none with
        `config.ideal_sensors`)."""
        import gymnasium

        import sim  # noqa: F401  (registers the robot_rl/* envs)
        from sim.errors import ConfigError
        from sim.robot import load_robot

        self.transport = transport
        self.config = config
        self.robot = load_robot(robot_of(config))
        task = (config.task or default_task(self.robot)).removeprefix("robot_rl/")
        if not task:
            raise ConfigError(str(self.robot.yaml_path), "", "no task uses this robot; pass --task")
        self.env = gymnasium.make(
            f"robot_rl/{task}",
            engine=config.engine,
            randomization=config.randomization,
            params=config.params,
            robot=self.robot,
            **({"motor_model": config.motor_model} if config.motor_model is not None else {}),
            **({"terrain": config.terrain} if config.terrain is not None else {}),
        )
        self.core = self.env.unwrapped
        self.task = task
        self.dt = self.robot.control_dt
        self._n_act = len(self.robot.actuators)
        self._command = np.zeros(self._n_act)
        self._answered = threading.Event()
        self._stop = threading.Event()
        self._commands = 0
        self._rejected = 0
        # Sim time starts at one period, not 0: a zero stamp means "not stamped" to ROS tools.
        self.sim_time_ns = int(round(self.dt * 1e9))
        self._state_pub = transport.publisher(config.state_topic, JointState)
        self._clock_pub = transport.publisher(config.clock_topic, Clock) if config.publish_clock else None
        self.legged = self.core.interface.needs_imu
        model = SensorModel(ideal=True) if config.ideal_sensors else (sensors or SensorModel())
        self._joint_types = [(j.name, j.type) for j in self.robot.joints]
        self.sensors = Sensors(model, self._joint_types, config.seed)
        self._reading: tuple[int, tuple] | None = None  # (sim time ns, reading): see `_read`
        self._imu_pub = transport.publisher(config.imu_topic, Imu) if self.legged else None
        self._cmd_vel_pub = transport.publisher(config.cmd_vel_topic, Twist) if self.legged else None
        # A task with a goal position (the reach) publishes each episode's goal, as an operator or
        # a planner would send it to the policy node.
        has_goal = self.core.interface.command_size == 3 and not self.legged
        self._goal_pub = transport.publisher(config.goal_topic, PointStamped) if has_goal else None
        children = {j.child for j in self.robot.urdf.joints.values()}
        self._base_frame = next((name for name in self.robot.urdf.links if name not in children), "world")
        self._estop = False
        self._estop_hold: np.ndarray | None = None  # positions at the press, for position actuators
        self._act_joints = [self.robot.joint_names.index(a.joint) for a in self.robot.actuators]
        transport.subscribe(config.command_topic, Float64MultiArray, self._on_command)
        subscribe_durable(transport, config.estop_topic, Bool, self._on_estop)

    # -- inputs ------------------------------------------------------------------------------
    def _on_command(self, msg: Float64MultiArray) -> None:
        values = np.asarray(msg.data, dtype=np.float64)
        if values.shape != (self._n_act,) or not np.all(np.isfinite(values)):
            self._rejected += 1
            if self._rejected in (1, 10, 100) or self._rejected % 1000 == 0:
                log.warning(
                    "%s: rejected command %s on %s (%d so far): expected %d finite values, one per actuator (%s)",
                    self.config.node_name,
                    list(values),
                    self.config.command_topic,
                    self._rejected,
                    self._n_act,
                    ", ".join(self.robot.actuator_names),
                )
            return
        self._command = values
        self._commands += 1
        self._answered.set()

    def _on_estop(self, msg: Bool) -> None:
        pressed = bool(msg.data)
        if pressed != self._estop:
            log.warning("%s: e-stop %s", self.config.node_name, "PRESSED: commands ignored" if pressed else "released")
            self._estop_hold = None
            self._estop = pressed

    def applied_command(self) -> np.ndarray:
        """What the actuators get this step: the latest command, or with the e-stop pressed the
        SafetyFilter's fault action, computed here as a robot's safety circuit would: zero force;
        hold the position of the moment of the press; on a legged robot damping, the targets
        following the measured positions."""
        if not self._estop:
            return self._command
        q, _ = self.core.engine.joint_state()
        if self._estop_hold is None:
            self._estop_hold = np.asarray(q, dtype=np.float64).copy()
        legged = self.robot.floating and self.robot.default_pose is not None
        held = np.asarray(q, dtype=np.float64) if legged else self._estop_hold
        return np.array([0.0 if a.type == "force" else float(held[j])
                         for a, j in zip(self.robot.actuators, self._act_joints, strict=True)])

    def _hold_before_first_command(self) -> None:
        """Start the episode's command path as a robot's: each position servo holding the pose it is
        at, each force actuator at zero, until the first command has come through the delay.

        The episode core resets its delay line to zeros (what training uses, unchanged); on this robot
        that sent every position servo to a 0 rad target for the first `action_delay`, a kick no arm
        gives and that system identification (which replays a log from a robot that was holding its
        pose, `sim.actuators.delayed_command`) rightly does not model.
        """
        delay = getattr(self.core.core, "delay", None)
        if delay is None:
            return
        q, _ = self.core.engine.joint_state()
        held = np.array([0.0 if a.type == "force" else float(q[j])
                         for a, j in zip(self.robot.actuators, self._act_joints, strict=True)])
        delay.reset(0, held)

    def stop(self) -> None:
        self._stop.set()

    def describe_sensors(self) -> dict[str, Any]:
        """What the published states went through, for the run's summary."""
        return self.sensors.model.describe(self._joint_types, imu=self.legged)

    # -- outputs -----------------------------------------------------------------------------
    def _read(self) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
        """The joints (and a legged robot's IMU: orientation w,x,y,z, gyro, accelerometer) as the robot's
        sensors report them now: the task's `obs_noise`, then the encoders and the IMU's noise.

        One reading per sim time: the initial state re-published while waiting for a controller is the
        same reading, so how long the wait took changes no later draw and a lockstep run reproduces.
        """
        if self._reading is not None and self._reading[0] == self.sim_time_ns:
            return self._reading[1]
        imu = None
        if self.legged:
            # The sensors as the task's observation sees them: the episode core's noise model.
            state = self.core.core.sensed_state().row(0)
            q, qd = state.q, state.qd
            imu = self.sensors.read_imu(state.imu.orientation, state.imu.angular_velocity,
                                        state.imu.linear_acceleration)
        else:
            q, qd = self.core.engine.joint_state()
            noise = float(self.core.params.get("obs_noise", 0.0))
            if noise > 0:
                rng = self.core.np_random
                q, qd = q + rng.normal(0.0, noise, q.shape), qd + rng.normal(0.0, noise, qd.shape)
        q, qd = self.sensors.read_joints(q, qd)  # the encoders and drives (unchanged with ideal sensors)
        self._reading = (self.sim_time_ns, (q, qd, imu))
        return q, qd, imu

    def _publish(self, episode: int) -> None:
        stamp = time_from_ns(self.sim_time_ns)
        q, qd, imu = self._read()
        if self.legged:
            cmd = self.core.command
            self._cmd_vel_pub.publish(Twist(linear=Vector3(float(cmd[0]), float(cmd[1]), 0.0),
                                            angular=Vector3(0.0, 0.0, float(cmd[2]))))
            quat, gyro, accel = imu
            w, x, y, z = (float(v) for v in quat)
            self._imu_pub.publish(Imu(
                header=Header(stamp=stamp, frame_id=self.robot.base.imu_link),
                orientation=Quaternion(x, y, z, w),
                angular_velocity=Vector3(*(float(v) for v in gyro)),
                linear_acceleration=Vector3(*(float(v) for v in accel)),
            ))
        if self._goal_pub is not None:
            # With every state, before it: the node has the episode's goal when its first state
            # arrives, and a goal lost on the way is replaced one period later.
            x, y, z = (float(v) for v in self.core.command)
            self._goal_pub.publish(PointStamped(header=Header(stamp=stamp, frame_id=self._base_frame),
                                                point=Point(x=x, y=y, z=z)))
        self._state_pub.publish(
            JointState(
                header=Header(stamp=stamp, frame_id=episode_frame_id(episode)),
                name=list(self.robot.joint_names),
                position=q.tolist(),
                velocity=qd.tolist(),
                # A robot with modelled drives reports their torques, as a ros2_control robot does: what
                # `robot-rl sysid --actuator-net` learns from (an `excite --publish` run records them).
                effort=self.core.engine.state().tau.tolist() if self.config.motor_model is not None else [],
            )
        )
        if self._clock_pub is not None:
            self._clock_pub.publish(Clock(clock=stamp))

    # -- the loop ----------------------------------------------------------------------------
    def _hold_until_answered(self, episode: int) -> bool:
        """Re-publish the initial state each period until a controller answers (or we are stopped)."""
        while not self._stop.is_set():
            self._publish(episode)
            if self._answered.wait(self.dt / self.config.realtime_factor):
                return True
        return False

    def run(self) -> list[EpisodeResult]:
        """Run episodes until `episodes` are done or `stop()` is called; returns the finished ones."""
        results: list[EpisodeResult] = []
        period = self.dt / self.config.realtime_factor
        episode = 0
        while not self._stop.is_set() and (self.config.episodes is None or episode < self.config.episodes):
            self.env.reset(seed=self.config.seed + episode)
            self._hold_before_first_command()
            self.sensors.reseed(episode)
            noise_rng = np.random.default_rng([self.config.seed, episode, 0xDA27])  # reproducible per episode
            if episode > 0:  # the reset takes one period: every state has its own, later stamp
                self.sim_time_ns += int(round(self.dt * 1e9))
            self._command = np.zeros(self._n_act)
            self._answered.clear()
            if episode == 0 and self.config.wait_for_controller:
                # The held state is the episode's first state; its answer is the first command.
                if not self._hold_until_answered(episode):
                    break
            else:
                self._publish(episode)
            total, steps, info, terminated, truncated = 0.0, 0, {}, False, False
            next_tick = time.monotonic() + period
            while not self._stop.is_set():
                if self.config.lockstep and not self._answered.wait(self.config.command_timeout):
                    log.warning(
                        "%s: no command within %g s of the state at sim time %.3f s; stepping with the last one",
                        self.config.node_name,
                        self.config.command_timeout,
                        self.sim_time_ns / 1e9,
                    )
                elif not self.config.lockstep:
                    delay = next_tick - time.monotonic()
                    if delay > 0:
                        self._stop.wait(delay)
                    next_tick = max(next_tick + period, time.monotonic())
                self._answered.clear()
                action = self.core.interface.command_to_action(self.applied_command())
                if self.config.action_noise > 0 and not self._estop:  # the e-stop's safe action stays exact
                    action = np.clip(action + noise_rng.normal(0.0, self.config.action_noise, action.shape), -1, 1)
                _, reward, terminated, truncated, info = self.env.step(action)
                self.sim_time_ns += int(round(self.dt * 1e9))
                total += float(reward)
                steps += 1
                if truncated and self.config.continuous:
                    truncated = False
                self._publish(episode)
                if self.config.episode_steps is not None and steps >= self.config.episode_steps:
                    truncated = True  # cut short on request: no success verdict (the task's needs its full length)
                if terminated or truncated:
                    break
            if (terminated or truncated) and self.config.lockstep:
                # The controller answers the episode's final state too. Consume that answer now:
                # arriving after the reset, it would be taken for the answer to the next episode's
                # first state and shift that whole episode by one control period.
                self._answered.wait(self.config.command_timeout)
            if terminated or truncated:  # a finished episode (not one cut short by stop())
                results.append(EpisodeResult(episode, total, bool(info.get("success", False)), steps,
                                             self._final_goal_distance()))
                log.info(
                    "%s: episode %d: return %.2f, success %s, %d steps",
                    self.config.node_name,
                    episode,
                    total,
                    info.get("success"),
                    steps,
                )
            episode += 1
        return results

    def _final_goal_distance(self) -> float | None:
        """The end effector's distance to the goal now, for tasks that define one (else None)."""
        goal_distance = getattr(self.core.logic, "goal_distance", None)
        if goal_distance is None:
            return None
        q, _ = self.core.engine.joint_state()
        return float(goal_distance(q[None], self.core.command[None])[0])

    def close(self) -> None:
        self.env.close()
