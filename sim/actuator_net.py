"""A learned actuator model (Hwangbo et al. 2019, ANYmal's actuator network), run in numpy by the engines.

Why: a drive the PD vocabulary cannot express (sim/motor_model.py: torque-speed envelope, current
lag, backlash) can still be learned from what the robot logs: the torque it produced given the
recent history of its position error (target - position) and velocity. `robot-rl sysid
--actuator-net` fits one such network per actuator (calibration/actuator_net.py); training with
`--actuator-net FILE` then computes each joint's torque by the network at every physics step
instead of the PD servo, so the policy learns the motors it will meet.

The network of actuator j sees, at a physics step at time t, the position error e = u - q and
the velocity qd of its joint at t, t - s, ..., t - (h - 1) s (h = `history`, s = `spacing`, a whole
number of physics steps), normalized per input, through `hidden` tanh layers to one output, the
torque (un-normalized, clipped to the effort limit). The N robots x n_actuators small networks are
one batched einsum per layer: a few microseconds per physics step.

File (JSON, no pickle): format, robot, actuators (robot.yaml order), history, spacing (s),
input_mean / input_std (n_actuators x 2h: errors oldest..newest, then velocities), output_mean /
output_std (n_actuators), layers [{weight: (n_act, in, out), bias: (n_act, out)}], fit (metadata:
logs, held-out error, ...).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import ConfigError
from sim.robot import RobotSpec

FORMAT = "robot_rl.actuator_net/1"


@dataclass
class ActuatorNet:
    """Weights, normalization and metadata of one robot's actuator networks; see the module docstring."""

    robot_name: str
    actuators: list[str]
    history: int
    spacing: float  # s between history samples
    input_mean: np.ndarray  # (n_act, 2h)
    input_std: np.ndarray
    output_mean: np.ndarray  # (n_act,)
    output_std: np.ndarray
    weights: list[np.ndarray]  # (n_act, in, out) per layer
    biases: list[np.ndarray]  # (n_act, out)
    fit: dict[str, Any] = field(default_factory=dict)
    source: str = "actuator network"
    robot: RobotSpec | None = None  # set by load_actuator_net once checked against a robot

    name = "actuator network"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Torques (M, n_act) from raw inputs (M, n_act, 2h): normalize, the layers, un-normalize."""
        return self.forward_t(np.swapaxes(x, 0, 1)).T

    def forward_t(self, x: np.ndarray) -> np.ndarray:
        """`forward` in the actuator-major layout: (n_act, M, 2h) -> (n_act, M), one batched matmul per layer."""
        h = (x - self.input_mean[:, None, :]) / self.input_std[:, None, :]
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = np.matmul(h, w)
            h += b[:, None, :]
            if k < last:
                np.tanh(h, out=h)
        return h[..., 0] * self.output_std[:, None] + self.output_mean[:, None]

    def law(self, n: int) -> NetTorques:
        if self.robot is None:
            raise ValueError("load the network with load_actuator_net(robot, ...) before running it")
        return NetTorques(self, self.robot, n)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "robot": self.robot_name, "actuators": list(self.actuators),
                "history": self.history, "spacing": self.spacing,
                "input_mean": self.input_mean.tolist(), "input_std": self.input_std.tolist(),
                "output_mean": self.output_mean.tolist(), "output_std": self.output_std.tolist(),
                "layers": [{"weight": w.tolist(), "bias": b.tolist()}
                           for w, b in zip(self.weights, self.biases, strict=True)],
                "fit": self.fit}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json()))
        tmp.replace(path)
        return path


def _array(data: dict, key: str, source: str, shape: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.asarray(data[key], dtype=float)
    except KeyError:
        raise ConfigError(source, key, "missing; was this file written by `robot-rl sysid --actuator-net`?") from None
    except (TypeError, ValueError):
        raise ConfigError(source, key, "expected an array of numbers") from None
    if arr.shape != shape:
        raise ConfigError(source, key, f"has shape {arr.shape}, expected {shape} (one row per actuator)")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(source, key, "contains NaN or infinite values; refit the network")
    return arr


def parse_actuator_net(data: Any, source: str) -> ActuatorNet:
    """An ActuatorNet from a file's JSON, every array's shape and finiteness checked."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(source, "format", f"not an actuator network file (expected format '{FORMAT}')")
    acts = data.get("actuators")
    if not isinstance(acts, list) or not acts or not all(isinstance(a, str) for a in acts):
        raise ConfigError(source, "actuators", "expected the list of actuator names")
    h = data.get("history")
    if isinstance(h, bool) or not isinstance(h, int) or h < 1:
        raise ConfigError(source, "history", f"got {h!r}; expected a whole number >= 1")
    spacing = data.get("spacing")
    if isinstance(spacing, bool) or not isinstance(spacing, (int, float)) or not spacing > 0:
        raise ConfigError(source, "spacing", f"got {spacing!r}; expected seconds > 0")
    nu, nin = len(acts), 2 * h
    layers = data.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ConfigError(source, "layers", "expected a list of {weight, bias}")
    weights, biases, width = [], [], nin
    for k, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise ConfigError(source, f"layers[{k}]", "expected {weight, bias}")
        w = np.asarray(layer.get("weight"), dtype=float)
        if w.ndim != 3 or w.shape[:2] != (nu, width):
            raise ConfigError(source, f"layers[{k}].weight", f"has shape {w.shape}, expected ({nu}, {width}, out)")
        weights.append(_array(layer, "weight", f"{source}: layers[{k}]", w.shape))
        biases.append(_array(layer, "bias", f"{source}: layers[{k}]", (nu, w.shape[2])))
        width = w.shape[2]
    if width != 1:
        raise ConfigError(source, "layers", f"the last layer gives {width} outputs per actuator, expected 1 (torque)")
    std_in = _array(data, "input_std", source, (nu, nin))
    std_out = _array(data, "output_std", source, (nu,))
    if np.any(std_in <= 0) or np.any(std_out <= 0):
        raise ConfigError(source, "input_std", "normalization scales must be > 0")
    return ActuatorNet(str(data.get("robot")), acts, h, float(spacing), _array(data, "input_mean", source, (nu, nin)),
                       std_in, _array(data, "output_mean", source, (nu,)), std_out, weights, biases,
                       dict(data.get("fit") or {}), source)


def load_actuator_net(robot: RobotSpec, spec: str | Path | ActuatorNet) -> ActuatorNet:
    """The actuator network in `spec` (a file or an ActuatorNet), checked against `robot`.

    Refused: another robot's network, other actuators, a spacing that is not a whole number of the
    robot's physics steps, a force actuator (the network models position servos), NaN weights.
    """
    if isinstance(spec, ActuatorNet):
        net = spec
    else:
        path = Path(spec)
        if not path.is_file():
            raise ConfigError(str(path), "", "actuator network file not found; write one with "
                              "`robot-rl sysid --actuator-net LOG... --robot R --out FILE`")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(str(path), "", f"not JSON ({e}); expected an actuator network file") from None
        net = parse_actuator_net(data, str(path))
    src = net.source
    if net.robot_name != robot.name:
        raise ConfigError(src, "robot", f"this actuator network is for '{net.robot_name}', not '{robot.name}'; "
                          f"fit one on a log of '{robot.name}'")
    if list(net.actuators) != list(robot.actuator_names):
        raise ConfigError(src, "actuators", f"{len(net.actuators)} actuators {net.actuators} do not match "
                          f"'{robot.name}''s {len(robot.actuators)} {list(robot.actuator_names)}")
    force = [a for a in robot.actuators if a.type != "position"]
    if force:
        raise ConfigError(src, "actuators", f"{force[0].name} is a {force[0].type} actuator; an actuator network "
                          "replaces position servos only")
    steps = net.spacing / robot.physics_dt
    if abs(steps - round(steps)) > 1e-6 * max(1.0, steps) or round(steps) < 1:
        raise ConfigError(src, "spacing", f"{net.spacing:g} s is not a whole number of '{robot.name}''s physics "
                          f"steps ({robot.physics_dt:g} s)")
    net.robot = robot
    return net


class NetTorques:
    """The actuator network as a `TorqueLaw` (sim/motor_model.py) for N robots: a ring buffer of each
    physics step's (error, velocity), the history gathered from it, one batched forward pass."""

    def __init__(self, net: ActuatorNet, robot: RobotSpec, n: int):
        self.net, self.n = net, n
        self.joints = np.array(robot.actuator_joint_indices())
        self.effort = np.array([a.effort_limit for a in robot.actuators])
        self.stride = int(round(net.spacing / robot.physics_dt))
        self.length = (net.history - 1) * self.stride + 1
        nu = len(robot.actuators)
        # Samples in the actuator-major layout the forward pass takes: (n_act, N, ring) of errors, then velocities.
        self.ring = np.zeros((nu, n, 2, self.length))
        self.pos = 0  # where the next sample goes
        self._back = np.arange(net.history - 1, -1, -1) * self.stride  # oldest first, as the inputs are laid out
        self._identity = list(self.joints) == list(range(len(robot.joints)))

    def set_params(self, i: int, params: dict[str, float]) -> None:
        """The network is the drive: vocabulary gains play no part."""

    def reset(self, i: int, q: np.ndarray) -> None:
        """At rest, holding its pose: zero error and velocity in the whole history."""
        self.ring[:, i] = 0.0

    def torques(self, command: np.ndarray, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        p = self.pos
        qa, qda = (q, qd) if self._identity else (q[:, self.joints], qd[:, self.joints])
        self.ring[:, :, 0, p] = (command - qa).T
        self.ring[:, :, 1, p] = qda.T
        idx = (p - self._back) % self.length
        self.pos = (p + 1) % self.length
        x = self.ring[:, :, :, idx].reshape(self.ring.shape[0], self.n, -1)  # (n_act, N, 2h): errors, velocities
        tau = self.net.forward_t(x).T
        return np.minimum(np.maximum(tau, -self.effort), self.effort)


__all__ = ["FORMAT", "ActuatorNet", "NetTorques", "load_actuator_net", "parse_actuator_net"]
