"""Flat-ground velocity tracking for a legged robot (A1Walk-v0): legged_gym / Playground joystick style.

A command (forward m/s, lateral m/s, yaw rate rad/s, base frame) is sampled per episode, some
episodes stand still. The reward is named terms (weights in the TaskSpec): exponential tracking of
planar and yaw velocity, penalties on vertical and roll/pitch motion, tilt, torques and action rate,
a feet-air-time term that pays for steps of useful length, and a termination penalty. The episode
ends on a fall: the trunk touches the floor or tilts past `max_tilt_deg`. Success, read at the end:
no fall and a mean planar tracking error <= `success_error` m/s after the first `success_after_s`.

The reward may use the simulator's truth (base velocity, contacts); the actor's observation may
not (sim/observations.py), the critic gets it as privileged state.
"""

from __future__ import annotations

import numpy as np

from sim.observations import TaskInterface
from sim.robot import RobotSpec
from sim.state import RobotState, quat_rotate_inverse
from sim.tasks.logic import TaskLogic
from sim.tasks.registry import TaskSpec

# Feet air time (Playground's thresholds): a step pays (air time - AIR_TIME_MIN), capped at
# AIR_TIME_MAX - AIR_TIME_MIN. legged_gym's 0.5 s target with 4096 envs made every short step a
# penalty; on 48 envs that taught the policy to keep its feet down and stand (measured: the term
# cost -145 per episode against +300 for linear tracking, and the policy never walked).
AIR_TIME_MIN = 0.1  # s
AIR_TIME_MAX = 0.5  # s


class VelocityTracking(TaskLogic):
    def __init__(self, robot: RobotSpec, interface: TaskInterface, spec: TaskSpec):
        super().__init__(robot, interface, spec)
        if robot.base is None or robot.default_pose is None:
            raise ValueError(f"task '{spec.id}' needs a floating-base robot with a default_pose")
        c = spec.config
        self.ranges = np.array([c["lin_vel_x"], c["lin_vel_y"], c["yaw_rate"]], dtype=float)
        self.stand_probability = float(c["stand_probability"])
        self.sigma = float(c["tracking_sigma"])
        self.min_up = float(np.cos(np.deg2rad(c["max_tilt_deg"])))
        self.success_error = float(c["success_error"])
        self.success_after = int(round(c["success_after_s"] * robot.control_hz))
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
        step_value = np.minimum(self.air_time - AIR_TIME_MIN, AIR_TIME_MAX - AIR_TIME_MIN)
        air = np.sum(step_value * first_contact, axis=1) * moving
        self.air_time[contact] = 0.0
        return {
            "tracking_lin_vel": np.exp(-np.sum((command[:, :2] - v[:, :2]) ** 2, axis=1) / self.sigma),
            "tracking_ang_vel": np.exp(-((command[:, 2] - w[:, 2]) ** 2) / self.sigma),
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


def scripted_trot(robot: RobotSpec, seconds: float, hz: float = 2.0) -> np.ndarray:
    """Joint targets (T, n_joints) of an open-loop trot about the default pose: a gait with no policy.

    Diagonal legs (FR+RL, FL+RR) in antiphase at `hz`: the thigh swings +-0.25 rad, the calf folds
    0.45 rad to lift the foot while the thigh swings it forward, so the robot walks forward. Used to
    show a robot steps in an engine and to measure the engines' gap with contacts (bench/sim2sim_gap.py).
    Legs are named by the joint prefix (FR_, FL_, RR_, RL_) and parts by `_upper_` / `_lower_`.
    """
    t = np.arange(int(round(seconds * robot.control_hz))) / robot.control_hz
    pose = np.array(robot.default_pose)
    targets = np.tile(pose, (len(t), 1))
    phase = {"FR": 0.0, "RL": 0.0, "FL": np.pi, "RR": np.pi}
    for k, name in enumerate(robot.joint_names):
        leg, part = name.split("_")[0], name.split("_")[1]
        s = np.sin(2 * np.pi * hz * t + phase.get(leg, 0.0))
        if part == "upper":
            targets[:, k] += 0.25 * s
        elif part == "lower":
            targets[:, k] -= 0.45 * np.maximum(-s, 0.0)  # lift while the foot swings forward (thigh decreasing)
    return targets
