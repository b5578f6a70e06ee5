"""Motors the PD vocabulary cannot express, and the torque laws that replace the native PD servo.

Why: a real joint drive is not the ideal PD servo of robot.yaml. Its torque falls with speed (the
supply voltage against the back-EMF), its current follows the command with an electrical lag, and
its gearbox has play, so the servo sees the joint angle through a dead band. None of that is a
name in the parameter vocabulary, so sysid cannot fit it and domain randomization cannot cover it.
This module is that motor, for the simulated robot (`robot-rl sim-robot --motor-model`), and the
one interface, `TorqueLaw`, through which the engines compute joint torques themselves every physics
step instead of realizing the PD servo natively: the motor here, the learned actuator network
(sim/actuator_net.py) in training.

The motor, per actuator and physics step of dt (numpy, batched over N robots):

* backlash: the servo's angle `q_s` follows the joint angle `q` with play b: it moves only when
  |q - q_s| > b / 2, then it trails q by b / 2 (a dead band of the angle the servo sees);
* the servo's torque request: gain * (kp * (u - q_s) - kd * qd) for a position actuator (gain * u
  for a force actuator), clipped to the effort limit;
* current lag: tau += (1 - exp(-dt / T)) * (request - tau), a first-order lag of time constant T;
* torque-speed envelope: in the direction of motion the torque is at most
  peak * max(0, 1 - |qd| / no_load_speed) (linear from the peak at standstill to zero at the
  no-load speed); against the motion (braking) the peak torque (the current limit) bounds it.
  The lagged torque is clipped to the envelope and the clipped value is the motor's state: a
  current the voltage cannot drive never builds up.

A motor model file (YAML), every key optional:

    robot: iiwa                 # refused for another robot
    time_constant: 0.005        # s, the current lag (0: none)
    backlash: 0.002             # rad (m for a prismatic joint), full width of the dead band
    no_load_speed_ratio: 1.0    # x the joint's velocity limit (robot.yaml / URDF)
    peak_torque_ratio: 1.0      # x the actuator's effort limit
    joints:                     # per-joint overrides, absolute units
      lbr_iiwa_joint_7: {time_constant: 0.01, backlash: 0.004, no_load_speed: 2.0, peak_torque: 30}

`default` is the values above.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sim.errors import ConfigError
from sim.robot import RobotSpec

DEFAULTS = {"time_constant": 0.005, "backlash": 0.002, "no_load_speed_ratio": 1.0, "peak_torque_ratio": 1.0}
JOINT_KEYS = ("time_constant", "backlash", "no_load_speed", "peak_torque")
TOP_KEYS = ("robot", "joints", *DEFAULTS)


class TorqueLaw(Protocol):
    """N robots' joint drives, stepped once per physics step by an engine that applies torques itself.

    Commands are robot.yaml actuator commands (N, n_actuators); q, qd are in robot.yaml joint order
    (N, n_joints); the result is the torque of each actuator (N, n_actuators) for the next physics step.
    """

    n: int

    def set_params(self, i: int, params: dict[str, float]) -> None:
        """Robot i's vocabulary values (the PD gains a motor's servo uses)."""

    def reset(self, i: int, q: np.ndarray) -> None:
        """Robot i at rest at joint positions q: no current, no history."""

    def torques(self, command: np.ndarray, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        """The torques of this physics step, advancing the drives' state by one step (the array may be the
        law's own state: copy it to keep it past the next call)."""


class TorqueModel(Protocol):
    """A drive model for one robot (a motor model, an actuator network): it makes batched `TorqueLaw`s."""

    name: str

    def law(self, n: int) -> TorqueLaw:
        """A fresh law for n robots."""


@dataclass(frozen=True)
class MotorModel:
    """Per-actuator motor constants (robot.yaml actuator order); see the module docstring."""

    robot: RobotSpec
    time_constant: np.ndarray  # s
    backlash: np.ndarray  # rad or m, full width
    no_load_speed: np.ndarray  # rad/s or m/s
    peak_torque: np.ndarray  # N*m or N
    source: str = "default"

    name = "motor model"

    def law(self, n: int) -> MotorTorques:
        return MotorTorques(self, n)

    def describe(self) -> dict[str, Any]:
        """The constants by actuator, for a run's summary."""
        return {"source": self.source, "actuators": {
            a.name: {"time_constant": float(self.time_constant[i]), "backlash": float(self.backlash[i]),
                     "no_load_speed": float(self.no_load_speed[i]), "peak_torque": float(self.peak_torque[i])}
            for i, a in enumerate(self.robot.actuators)}}


def envelope(peak: np.ndarray, no_load_speed: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) torque the motor can give at joint speed qd: the torque-speed envelope.

    In the direction of motion the peak falls linearly to zero at the no-load speed; against it the
    peak (current limit) holds.
    """
    motoring = peak * np.maximum(0.0, 1.0 - np.abs(qd) / no_load_speed)
    return np.where(qd < 0, -motoring, -peak), np.where(qd > 0, motoring, peak)


class MotorTorques:
    """The motor model's `TorqueLaw` for N robots: backlash, PD request, current lag, envelope."""

    def __init__(self, model: MotorModel, n: int):
        r = model.robot
        self.n, self.model = n, model
        self.joints = np.array(r.actuator_joint_indices())
        nu = len(r.actuators)
        # The common layout, one actuator per joint in joint order: no gather (each costs ~1 us per physics step).
        self._identity = list(self.joints) == list(range(len(r.joints)))
        self.position = np.array([a.type == "position" for a in r.actuators])
        self._all_position = bool(self.position.all())
        self.effort = np.array([a.effort_limit for a in r.actuators])
        self.gain, self.kp, self.kd = np.ones((n, nu)), np.zeros((n, nu)), np.zeros((n, nu))
        self.alpha = np.where(model.time_constant > 0,
                              1.0 - np.exp(-r.physics_dt / np.maximum(model.time_constant, 1e-12)), 1.0)
        self.half_play = 0.5 * model.backlash
        self.servo_q = np.zeros((n, nu))  # the angle each servo sees (through the backlash)
        self.tau = np.zeros((n, nu))  # each motor's torque (its current), the lag's state

    def set_params(self, i: int, params: dict[str, float]) -> None:
        for k, a in enumerate(self.model.robot.actuators):
            self.gain[i, k] = params[f"{a.name}.gain"]
            if a.type == "position":
                self.kp[i, k], self.kd[i, k] = params[f"{a.name}.kp"], params[f"{a.name}.kd"]

    def reset(self, i: int, q: np.ndarray) -> None:
        self.servo_q[i] = np.asarray(q, dtype=float)[self.joints]
        self.tau[i] = 0.0

    def torques(self, command: np.ndarray, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        qa, qda = (q, qd) if self._identity else (q[:, self.joints], qd[:, self.joints])
        # Backlash: the servo's angle moves only once the joint has crossed the dead band.
        self.servo_q = np.minimum(np.maximum(self.servo_q, qa - self.half_play), qa + self.half_play)
        pd = self.kp * (command - self.servo_q) - self.kd * qda
        request = self.gain * (pd if self._all_position else np.where(self.position, pd, command))
        request = np.minimum(np.maximum(request, -self.effort), self.effort)
        tau = self.tau + self.alpha * (request - self.tau)
        lo, hi = envelope(self.model.peak_torque, self.model.no_load_speed, qda)
        self.tau = np.minimum(np.maximum(tau, lo), hi)
        return self.tau


def _positive(value: Any, source: str, field: str, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0 \
            or (value == 0 and not allow_zero):
        want = "a number >= 0" if allow_zero else "a number > 0"
        raise ConfigError(source, field, f"got {value!r}; expected {want}")
    return float(value)


def load_motor_model(robot: RobotSpec, spec: str | Path | Mapping[str, Any] | MotorModel) -> MotorModel:
    """The motor model of `spec`: 'default', a YAML file, or its mapping; checked against `robot`."""
    if isinstance(spec, MotorModel):
        if spec.robot.name != robot.name:
            raise ConfigError(spec.source, "robot", f"motor model is for '{spec.robot.name}', not '{robot.name}'")
        return spec
    source = "default"
    data: Mapping[str, Any] = {}
    if isinstance(spec, Mapping):
        source, data = "motor model mapping", spec
    elif str(spec) != "default":
        from sim.validation import load_yaml_file

        path = Path(spec)
        if not path.is_file():
            raise ConfigError(str(path), "", "motor model file not found; pass a YAML file or 'default'")
        source = str(path)
        data = load_yaml_file(path, "motor model") or {}
        if not isinstance(data, Mapping):
            raise ConfigError(source, "", "expected a mapping of motor constants (see sim/motor_model.py)")
    unknown = set(data) - set(TOP_KEYS)
    if unknown:
        raise ConfigError(source, sorted(unknown)[0], f"unknown key; expected some of {', '.join(TOP_KEYS)}")
    if "robot" in data and str(data["robot"]) != robot.name:
        raise ConfigError(source, "robot", f"this motor model is for '{data['robot']}', not '{robot.name}'")
    top = {k: _positive(data.get(k, v), source, k, allow_zero=k in ("time_constant", "backlash"))
           for k, v in DEFAULTS.items()}
    nu = len(robot.actuators)
    tc, bl = np.full(nu, top["time_constant"]), np.full(nu, top["backlash"])
    vmax = np.array([robot.joint(a.joint).velocity_limit for a in robot.actuators]) * top["no_load_speed_ratio"]
    peak = np.array([a.effort_limit for a in robot.actuators]) * top["peak_torque_ratio"]
    joints = data.get("joints") or {}
    if not isinstance(joints, Mapping):
        raise ConfigError(source, "joints", "expected a mapping joint name -> {time_constant, backlash, ...}")
    by_joint = {a.joint: i for i, a in enumerate(robot.actuators)}
    for name, values in joints.items():
        if name not in by_joint:
            raise ConfigError(source, f"joints.{name}", f"no actuated joint of that name on '{robot.name}'; "
                              f"expected one of {', '.join(by_joint)}")
        if not isinstance(values, Mapping) or set(values) - set(JOINT_KEYS):
            raise ConfigError(source, f"joints.{name}", f"expected a mapping of {', '.join(JOINT_KEYS)}")
        i = by_joint[name]
        for key, arr in zip(JOINT_KEYS, (tc, bl, vmax, peak), strict=True):
            if key in values:
                arr[i] = _positive(values[key], source, f"joints.{name}.{key}",
                                   allow_zero=key in ("time_constant", "backlash"))
    return MotorModel(robot, tc, bl, vmax, peak, source)


def resolve_torque_model(robot: RobotSpec, motor_model: Any = None, actuator_net: Any = None) -> TorqueModel | None:
    """The drive model an env or engine runs with: a motor model, an actuator network, or None (native PD)."""
    if motor_model is not None and actuator_net is not None:
        raise ConfigError("motor_model and actuator_net", "", "give a motor model (the robot's motors) or an "
                          "actuator network (a learned model of them), not both")
    if motor_model is not None:
        return load_motor_model(robot, motor_model)
    if actuator_net is not None:
        from sim.actuator_net import load_actuator_net

        return load_actuator_net(robot, actuator_net)
    return None


__all__ = ["MotorModel", "MotorTorques", "TorqueLaw", "TorqueModel", "envelope", "load_motor_model",
           "resolve_torque_model"]
