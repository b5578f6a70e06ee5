"""Walk for any legged robot with a floating base, feet and an IMU: flat-ground velocity tracking.

legged_gym / Playground joystick style. A command (forward m/s, lateral m/s, yaw rate rad/s, base
frame) is sampled per episode, some episodes stand still. The reward is named terms (weights in the
spec): exponential tracking of planar and yaw velocity, penalties on vertical and roll/pitch motion,
tilt, torques and action rate, a feet-air-time term that pays for steps of useful length, and a
termination penalty. The episode ends on a fall: the base touches the floor or tilts past
`max_tilt_deg`. Success, read at the end: no fall and a mean planar tracking error <= `success_error`
m/s after the first `success_after_s`.

The settings and weights below were tuned on the Unitree A1 (the shipped A1Walk-v0 is this task on
it). For another robot the size-dependent ones are scaled by dynamic similarity (equal Froude number,
v^2 / (g h)) from the robot's standing height h (robot.yaml base.height) and total mass m (its URDF),
relative to the A1's (REFERENCE_HEIGHT, REFERENCE_MASS: every factor is exactly 1 on the A1):
speeds (forward and lateral command ranges, success error) x sqrt(h), yaw rates x 1/sqrt(h), times
(feet air time thresholds) x sqrt(h), the linear tracking kernel's width (m/s)^2 x h and the yaw
kernel's (rad/s)^2 x 1/h, and the weights of the penalties with units so each keeps its size on the
reward: lin_vel_z (m/s)^2 x 1/h, ang_vel_xy (rad/s)^2 x h, torques (N m)^2 x 1/(m h)^2 (torques scale
as m g h), feet_air_time (s) x 1/sqrt(h). The robot's robot.yaml `walk:` block overrides any of them
(in its own units, not scaled again).

The reward may use the simulator's truth (base velocity, contacts); the actor's observation may not
(`interface`), the critic gets it as privileged state.

This module is the whole task: its spec, its observation interface and its logic (numpy only).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from sim.errors import ConfigError
from sim.state import RobotState, quat_rotate_inverse
from sim.tasks.interface import ObsField, TaskInterface
from sim.tasks.logic import TaskLogic
from sim.tasks.spec import TaskSpec

if TYPE_CHECKING:
    from sim.robot import RobotSpec

KIND = "a legged robot: a floating base ('base:' in robot.yaml) with feet, an IMU, a default_pose and " \
       "position actuators"
EPISODE_S = 20.0
# The robot the defaults were tuned on: the Unitree A1 (sim/robots/a1): base.height 0.30 m standing in its
# default pose, 12.458 kg in its URDF. Scale factors are ratios to these, exactly 1.0 on the A1.
REFERENCE_HEIGHT = 0.30  # m
REFERENCE_MASS = 12.458  # kg

# Feet air time (Playground's thresholds): a step pays (air time - air_time_min), capped at
# air_time_max - air_time_min. legged_gym's 0.5 s target with 4096 envs made every short step a
# penalty; on 48 envs that taught the policy to keep its feet down and stand (measured: the term
# cost -145 per episode against +300 for linear tracking, and the policy never walked).
AIR_TIME_MIN = 0.1  # s
AIR_TIME_MAX = 0.5  # s

# Observation scales (legged_gym's): joint velocities and angular rates are large numbers.
QD_SCALE = 0.05
GYRO_SCALE = 0.25


def fits(robot: RobotSpec) -> str | None:
    """None for a legged robot (see KIND); else what it lacks."""
    if robot.base is None:
        return "has no floating base (a 'base:' section in robot.yaml)"
    if robot.default_pose is None:
        return "has no default_pose (the standing pose an action of 0 commands)"
    if not robot.base.feet:
        return "names no feet (robot.yaml 'feet:', the links whose floor contact counts as a step)"
    if any(a.type != "position" for a in robot.actuators):
        return "has force actuators (actions are joint position targets about the default pose)"
    return None


def total_mass(robot: RobotSpec) -> float:
    """The robot's mass (kg): every link of its URDF."""
    return sum(link.mass for link in robot.urdf.links.values())


def scale_factors(robot: RobotSpec) -> tuple[float, float]:
    """(h, m): standing height and mass relative to the reference robot's (1.0, 1.0 on the A1)."""
    return robot.base.height / REFERENCE_HEIGHT, total_mass(robot) / REFERENCE_MASS


def configure(spec: TaskSpec, robot: RobotSpec) -> TaskSpec:
    """The spec for `robot`: size-dependent settings and weights scaled (module docstring), then robot.yaml
    `walk:` on top; the episode lasts EPISODE_S at the robot's control rate."""
    h, m = scale_factors(robot)
    speed, rate, time = math.sqrt(h), math.sqrt(1.0 / h), math.sqrt(h)
    c = dict(spec.config)
    for key, factor in (("lin_vel_x", speed), ("lin_vel_y", speed), ("yaw_rate", rate)):
        c[key] = (c[key][0] * factor, c[key][1] * factor)
    c["tracking_sigma"] = c["tracking_sigma"] * h
    c["tracking_sigma_yaw"] = c["tracking_sigma_yaw"] / h
    c["success_error"] = c["success_error"] * speed
    c["air_time_min"], c["air_time_max"] = c["air_time_min"] * time, c["air_time_max"] * time
    w = dict(spec.reward)
    w["lin_vel_z"] = w["lin_vel_z"] / h
    w["ang_vel_xy"] = w["ang_vel_xy"] * h
    w["torques"] = w["torques"] / (m * h) ** 2
    w["feet_air_time"] = w["feet_air_time"] / time
    given = robot.walk
    if given is not None:
        c.update(given.given())
        for term, weight in given.reward.items():
            if term not in w:
                raise ConfigError(str(robot.yaml_path), f"walk.reward.{term}", f"not a reward term of {spec.id}; "
                                  f"its terms: {', '.join(w)}")
            w[term] = weight
        if c["air_time_min"] >= c["air_time_max"]:
            raise ConfigError(str(robot.yaml_path), "walk.air_time_max", f"{c['air_time_max']:g} s is not above "
                              f"air_time_min ({c['air_time_min']:g} s)")
    return replace(spec, config=c, reward=w, episode_steps=int(round(EPISODE_S * robot.control_hz)))


# -- observation ----------------------------------------------------------------------------------------

def interface(task: str, robot: RobotSpec) -> TaskInterface:
    """Velocity tracking on a legged robot: only what the real robot reports (no base velocity).

    Actions are joint targets about the robot's default standing pose (action 0 = stand), 0.5 rad
    per unit action. The command is (forward m/s, lateral m/s, yaw rate rad/s) in the base frame.
    """
    if robot.base is None or robot.default_pose is None:
        raise ValueError(f"task '{task}' needs a floating-base robot with a default_pose; '{robot.name}' has none")
    n = len(robot.joints)
    act_j = robot.actuator_joint_indices()
    pose = np.array(robot.default_pose)
    offset = pose[act_j]

    def obs(state: RobotState, last_action: np.ndarray, command: np.ndarray) -> np.ndarray:
        imu = state.imu
        return np.concatenate([imu.projected_gravity, GYRO_SCALE * imu.angular_velocity, command,
                               state.q - pose, QD_SCALE * state.qd, last_action], axis=-1)

    layout = (
        ObsField("imu.projected_gravity", 3, "1", "unit gravity in the IMU frame, (0, 0, -1) when level"),
        ObsField("imu.angular_velocity_scaled", 3, "0.25 rad/s", "IMU angular velocity times 0.25"),
        ObsField("command.velocity", 3, "m/s, m/s, rad/s", "commanded forward, lateral and yaw velocity (base frame)"),
        ObsField("joint.position_offset", n, "rad", "joint positions minus the default pose, robot.yaml order"),
        ObsField("joint.velocity_scaled", n, "0.05 rad/s", "joint velocities times 0.05"),
        ObsField("last_action", len(robot.actuators), "1", "previous policy action in [-1, 1]"),
    )
    return TaskInterface(task, robot.name, robot.joint_names, layout, 3, offset, np.full(len(act_j), 0.5), obs,
                         noise=(("q", 1.0), ("qd", 10.0), ("gyro", 10.0), ("orientation", 2.0)), needs_imu=True)


# -- logic ----------------------------------------------------------------------------------------------

class Walk(TaskLogic):
    def __init__(self, robot: RobotSpec, interface: TaskInterface, spec: TaskSpec):
        super().__init__(robot, interface, spec)
        if robot.base is None or robot.default_pose is None:
            raise ValueError(f"task '{spec.id}' needs a floating-base robot with a default_pose")
        c = spec.config
        self.ranges = np.array([c["lin_vel_x"], c["lin_vel_y"], c["yaw_rate"]], dtype=float)
        self.stand_probability = float(c["stand_probability"])
        self.sigma = float(c["tracking_sigma"])
        self.sigma_yaw = float(c["tracking_sigma_yaw"])
        self.min_up = float(np.cos(np.deg2rad(c["max_tilt_deg"])))
        self.success_error = float(c["success_error"])
        self.success_after = int(round(c["success_after_s"] * robot.control_hz))
        self.air_time_min, self.air_time_max = float(c["air_time_min"]), float(c["air_time_max"])
        self.dt = robot.control_dt
        self.pose = np.array(robot.default_pose)
        self.bind(1)

    def bind(self, n: int) -> None:
        k = len(self.robot.base.feet)
        self.air_time = np.zeros((n, k))
        self.last_contact = np.zeros((n, k), dtype=bool)

    def reset_envs(self, idx: np.ndarray) -> None:
        self.air_time[idx] = 0.0
        self.last_contact[idx] = False

    def initial_state(self, rng: np.random.Generator, n: int):
        q = np.tile(self.pose, (n, 1))
        command = rng.uniform(self.ranges[:, 0], self.ranges[:, 1], (n, 3))
        command[rng.random(n) < self.stand_probability] = 0.0
        return q, np.zeros_like(q), command

    def _body_velocity(self, state: RobotState) -> np.ndarray:
        return quat_rotate_inverse(state.base.orientation, state.base.linear_velocity)

    def _up(self, state: RobotState) -> np.ndarray:
        """z of the body's up axis in the world: 1 level, 0 on its side."""
        return -quat_rotate_inverse(state.base.orientation, np.array([0.0, 0.0, -1.0]))[:, 2]

    def reward_terms(self, state: RobotState, action, last_action, command):
        v = self._body_velocity(state)
        w = state.base.angular_velocity
        gravity = quat_rotate_inverse(state.base.orientation, np.array([0.0, 0.0, -1.0]))
        # Contact filtered over two steps (legged_gym): a foot that chatters for one control step
        # has not taken a step.
        contact = state.contacts | self.last_contact
        self.last_contact = state.contacts
        first_contact = (self.air_time > 0) & contact
        self.air_time += self.dt
        moving = np.linalg.norm(command[:, :2], axis=1) > 0.1
        step_value = np.minimum(self.air_time - self.air_time_min, self.air_time_max - self.air_time_min)
        air = np.sum(step_value * first_contact, axis=1) * moving
        self.air_time[contact] = 0.0
        return {
            "tracking_lin_vel": np.exp(-np.sum((command[:, :2] - v[:, :2]) ** 2, axis=1) / self.sigma),
            "tracking_ang_vel": np.exp(-((command[:, 2] - w[:, 2]) ** 2) / self.sigma_yaw),
            "lin_vel_z": v[:, 2] ** 2,
            "ang_vel_xy": np.sum(w[:, :2] ** 2, axis=1),
            "orientation": np.sum(gravity[:, :2] ** 2, axis=1),
            "torques": np.sum(state.tau**2, axis=1),
            "action_rate": np.sum((action - last_action) ** 2, axis=1),
            "feet_air_time": air,
            "termination": self.terminated(state).astype(float),
        }

    def terminated(self, state: RobotState) -> np.ndarray:
        return (state.base_force > 1.0) | (self._up(state) < self.min_up)

    def privileged(self, state: RobotState) -> np.ndarray:
        """Base linear velocity (base frame) and height, foot contact forces / 100 N: the critic's extra truth."""
        return np.concatenate([self._body_velocity(state), state.base.position[:, 2:3],
                               state.foot_forces / 100.0], axis=1).astype(np.float32)

    def success_init(self, n: int) -> np.ndarray:
        tracker = np.zeros((n, 3))
        tracker[:, 0] = 1.0  # no fall yet; then sum of planar errors, number of steps summed
        return tracker

    def success_update(self, ok, state, command, step, terminated) -> None:
        ok[terminated, 0] = 0.0
        counted = step > self.success_after
        err = np.linalg.norm(command[:, :2] - self._body_velocity(state)[:, :2], axis=1)
        ok[:, 1] += np.where(counted, err, 0.0)
        ok[:, 2] += counted

    def success_of(self, tracker: np.ndarray) -> np.ndarray:
        mean_error = tracker[:, 1] / np.maximum(tracker[:, 2], 1.0)
        return (tracker[:, 0] > 0) & (tracker[:, 2] > 0) & (mean_error <= self.success_error)


SPEC = TaskSpec(
    "Walk-v0", KIND, interface, Walk, int(round(EPISODE_S * 50)),
    {"tracking_lin_vel": 1.0, "tracking_ang_vel": 0.5, "lin_vel_z": -2.0, "ang_vel_xy": -0.05,
     "orientation": -5.0, "torques": -2e-4, "action_rate": -0.01, "feet_air_time": 1.0, "termination": -10.0},
    "no fall in 20 s and mean planar velocity tracking error <= 0.25 m/s (scaled to the robot) after the first "
    "second",
    {"lin_vel_x": (-0.6, 1.0), "lin_vel_y": (-0.4, 0.4), "yaw_rate": (-1.0, 1.0), "stand_probability": 0.1,
     "tracking_sigma": 0.25, "tracking_sigma_yaw": 0.25, "max_tilt_deg": 60.0, "success_error": 0.25,
     "success_after_s": 1.0, "air_time_min": AIR_TIME_MIN, "air_time_max": AIR_TIME_MAX},
    fits=fits, configure=configure)
SPECS = (SPEC,)
