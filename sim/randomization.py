"""Domain randomization: a YAML config of ranges over the parameter vocabulary, sampled per episode.

Config format (`sim/robots/<robot>/randomization/<name>.yaml`, or any path):

    parameters:                 # names of the vocabulary (sim/params.py)
      pole.mass: {scale_uniform: [0.8, 1.2]}     # times the base value (nominal or --params)
      slider.damping: {log_uniform: [0.2, 1.0]}  # absolute, log-uniform
      action_delay: {uniform: [0.0, 0.02]}       # absolute, uniform
    initial_state:              # uniform spread added to the task's initial joint state
      position: [0.05, 0.1]     # +- per joint (m or rad), robot.yaml joint order
      velocity: [0.05, 0.1]
    push:                       # random impulsive pushes: a joint-velocity kick
      probability: 0.02         # per control step
      velocity: [0.3, 0.5]      # max kick per joint (m/s or rad/s)
      base_velocity: [0.5, 0.5, 0.0]  # floating base only: max kick of its linear velocity (m/s, world)

Parameter keys may be glob patterns (`"*.kp": {scale_uniform: [0.9, 1.1]}`), expanded against the
robot's vocabulary by sim/patterns.py; a pattern matching nothing is an error.

A pattern's entry may add `shared: true` (or a probability per episode): every parameter it matches
then takes the same draw (the same scale factor), as when a whole arm is lighter than its model:

      "lbr_iiwa_link_[1-6].mass": {scale_uniform: [0.45, 1.55], shared: 0.5}

Why: independent draws of six link masses almost never make the whole arm light or heavy at once
(the corner of the gap class where a policy trained that way failed), while a shared draw makes it
common; `shared: 0.5` keeps half of the episodes' links independent.

Sampling is a pure function of a numpy Generator, so the same seed gives the same episodes.

Every key is checked (an unknown section, key or distribution names the nearest valid one) and
every bound against its parameter's physical range (`sim.robot.parameter_range`; `scale_uniform`
factors at most `MAX_SCALE`), so `action_delay: {uniform: [0, 1e6]}` is refused at load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import ConfigError
from sim.params import load_yaml_mapping
from sim.patterns import expand_mapping, is_pattern
from sim.robot import MAX_SCALE, RobotSpec, is_signed_parameter, parameter_range
from sim.validation import check_interval, check_keys, check_number, did_you_mean

DISTRIBUTIONS = ("uniform", "log_uniform", "scale_uniform")
RandomizationLike = str | Path | dict | None


@dataclass(frozen=True)
class ParameterRange:
    name: str
    distribution: str
    low: float
    high: float
    group: str | None = None  # the pattern whose members share one draw (`shared:`), or None
    share_probability: float = 0.0  # per episode, the chance the group's members share that draw

    def sample(self, rng: np.random.Generator, base: float) -> float:
        return self.from_unit(rng.random(), base)

    def from_unit(self, u: float, base: float) -> float:
        """The value at `u` in [0, 1): `rng.uniform(lo, hi)` is `lo + (hi - lo) * rng.random()` (numpy's
        own formula), so a value drawn this way is the one `rng.uniform` draws from the same stream."""
        if self.distribution == "uniform":
            return self.low + (self.high - self.low) * u
        if self.distribution == "log_uniform":
            lo, hi = float(np.log(self.low)), float(np.log(self.high))
            return float(np.exp(lo + (hi - lo) * u))
        return float(base * (self.low + (self.high - self.low) * u))


@dataclass(frozen=True)
class DomainRandomization:
    source: str
    parameters: tuple[ParameterRange, ...] = ()
    position_spread: np.ndarray | None = None
    velocity_spread: np.ndarray | None = None
    push_probability: float = 0.0
    push_velocity: np.ndarray | None = None
    push_base_velocity: np.ndarray | None = None
    raw: dict = field(default_factory=dict, repr=False)

    def sample_params(self, rng: np.random.Generator, base: dict[str, float]) -> dict[str, float]:
        """One episode's parameters: `base` with each range's draw, in config order.

        Without shared groups, one `rng.random(k)` call draws the k uniforms (the same stream, in the
        same order, as one `rng.uniform` call per parameter; a vector env resets several robots per
        step and each scalar draw costs ~1 us of numpy overhead). With a group (`shared:`), its
        first member draws whether the group shares this episode, then the shared quantile.
        """
        values = dict(base)
        if not any(r.group is not None for r in self.parameters):
            for r, u in zip(self.parameters, rng.random(len(self.parameters)).tolist(), strict=True):
                values[r.name] = r.from_unit(u, base[r.name])
            return values
        shared: dict[str, float | None] = {}  # group -> this episode's quantile (None: independent draws)
        for r in self.parameters:
            if r.group is not None:
                if r.group not in shared:
                    share = r.share_probability >= 1.0 or rng.random() < r.share_probability
                    shared[r.group] = float(rng.random()) if share else None
                if shared[r.group] is not None:
                    values[r.name] = r.from_unit(shared[r.group], base[r.name])
                    continue
            values[r.name] = r.sample(rng, base[r.name])
        return values

    def sample_initial_offset(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Offsets of the initial joint positions and velocities, uniform in +-spread.

        With both spreads, one `rng.random(2n)` call: the stream and values of two `rng.uniform(-1, 1, n)`
        calls (numpy's uniform is lo + (hi - lo) * u), at half the per-call overhead.
        """
        ps, vs = self.position_spread, self.velocity_spread
        if ps is not None and vs is not None:
            u = 2.0 * rng.random(2 * n) - 1.0
            return u[:n] * ps, u[n:] * vs
        dq = np.zeros(n) if ps is None else rng.uniform(-1, 1, n) * ps
        dv = np.zeros(n) if vs is None else rng.uniform(-1, 1, n) * vs
        return dq, dv

    def sample_push(self, rng: np.random.Generator, n: int) -> np.ndarray | None:
        if self.push_probability <= 0 or self.push_velocity is None or rng.random() >= self.push_probability:
            return None
        return rng.uniform(-1, 1, n) * self.push_velocity


def dist_of(spec: Any) -> str | None:
    """The distribution key of one parameter's entry, if it is well formed enough to have one."""
    return next(iter(spec)) if isinstance(spec, dict) and len(spec) == 1 else None


def available_configs(robot: RobotSpec) -> list[str]:
    return sorted(p.stem for p in (robot.root / "randomization").glob("*.yaml"))


def _per_joint(value: Any, n: int, source: str, field_name: str, what: str = "one per joint, robot.yaml order"
               ) -> np.ndarray:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value] * n
    if not isinstance(value, list) or len(value) != n or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) and v >= 0 for v in value):
        raise ConfigError(source, field_name, f"got {value!r}; expected one finite number >= 0 or a list of "
                          f"{n} ({what})")
    return np.array(value, dtype=float)


def _share_probability(value: Any, source: str, field_name: str) -> float:
    """`shared: true|false|p`: the chance per episode that a pattern's members share one draw."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return float(check_number(value, source, field_name, minimum=0.0, maximum=1.0,
                              unit="true, false or a probability per episode"))


def load_randomization(robot: RobotSpec, config: RandomizationLike) -> DomainRandomization | None:
    """A DR config by name (`default`, from the robot's folder), path, or mapping; None/'none' -> None."""
    if config is None or (isinstance(config, str) and config.lower() == "none"):
        return None
    if isinstance(config, dict):
        source, data = "randomization", config
    else:
        path = Path(config)
        if not path.suffix:
            path = robot.root / "randomization" / f"{config}.yaml"
            if not path.is_file():
                raise ConfigError(str(config), "", f"no randomization config '{config}' for robot '{robot.name}'; "
                                  f"available: {', '.join(available_configs(robot)) or 'none'} (or give a path)")
        source, data = str(path), load_yaml_mapping(path, "randomization")
    check_keys(data, ("parameters", "initial_state", "push"), source, what="section")
    ranges = []
    params = data.get("parameters") or {}
    if not isinstance(params, dict):
        raise ConfigError(source, "parameters",
                          "expected a mapping name -> {uniform|log_uniform|scale_uniform: [lo, hi]}")
    keyed = {key: (str(key), spec) for key, spec in params.items()}
    for name, (key, spec) in expand_mapping(keyed, list(robot.nominal), source, robot.name, "parameters.").items():
        field_name = f"parameters.{name}"
        group, share = None, 0.0
        for entry in spec if isinstance(spec, dict) else ():
            if entry not in (*DISTRIBUTIONS, "shared"):
                raise ConfigError(source, f"parameters.{key}.{entry}", "unknown key"
                                  f"{did_you_mean(entry, (*DISTRIBUTIONS, 'shared'))}; expected one of "
                                  + ", ".join(f"{{{d}: [lo, hi]}}" for d in DISTRIBUTIONS) + " (and optionally shared)")
        if isinstance(spec, dict) and "shared" in spec:
            spec = dict(spec)
            share = _share_probability(spec.pop("shared"), source, f"parameters.{key}.shared")
            if not is_pattern(key):
                raise ConfigError(source, f"parameters.{key}.shared", "only a pattern's entry can share a draw "
                                  "(e.g. \"*_link_[1-6].mass\"); an exact name has nothing to share it with")
            group = key if share > 0 else None
        signed = is_signed_parameter(name) and dist_of(spec) == "uniform"
        if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
            near = did_you_mean(next(iter(spec)), DISTRIBUTIONS) if isinstance(spec, dict) and spec else ""
            raise ConfigError(source, field_name, f"got {spec!r}{near}; expected one of "
                              + ", ".join(f"{{{d}: [lo, hi]}}" for d in DISTRIBUTIONS))
        dist, bounds = next(iter(spec.items()))
        # Finite, ordered, physical (>= 0, except signed offsets); log-uniform and mass ranges strictly above 0.
        positive = dist == "log_uniform" or name.endswith(".mass")
        if dist == "scale_uniform":  # a factor of the base value
            lo, hi = check_interval(bounds, source, f"{field_name}.{dist}", minimum=0.0, min_open=positive,
                                    maximum=MAX_SCALE, unit="factors of the base value")
        else:  # absolute values, inside the parameter's physical range
            low, high, low_open, unit = parameter_range(name)
            lo, hi = check_interval(bounds, source, f"{field_name}.{dist}", minimum=low if signed else 0.0,
                                    min_open=positive or low_open, maximum=None if np.isinf(high) else high,
                                    unit=unit)
        ranges.append(ParameterRange(name, dist, lo, hi, group, share))
    n = len(robot.joints)
    init = data.get("initial_state") or {}
    if not isinstance(init, dict):
        raise ConfigError(source, "initial_state", "expected a mapping with 'position' and/or 'velocity'")
    check_keys(init, ("position", "velocity"), source, "initial_state.")
    push = data.get("push") or {}
    if not isinstance(push, dict):
        raise ConfigError(source, "push", "expected a mapping with 'probability', 'velocity' and/or 'base_velocity'")
    check_keys(push, ("probability", "velocity", "base_velocity"), source, "push.")
    if "base_velocity" in push and not robot.floating:
        raise ConfigError(source, "push.base_velocity", f"robot '{robot.name}' has no floating base; "
                          "use push.velocity (joint velocity kicks)")
    prob = check_number(push.get("probability", 0.0), source, "push.probability", minimum=0.0, maximum=1.0,
                        unit="a probability per control step")
    def spread(section: dict, key: str, field_name: str) -> np.ndarray | None:
        return _per_joint(section[key], n, source, field_name) if key in section else None

    return DomainRandomization(
        source=source,
        parameters=tuple(ranges),
        position_spread=spread(init, "position", "initial_state.position"),
        velocity_spread=spread(init, "velocity", "initial_state.velocity"),
        push_probability=float(prob),
        push_velocity=spread(push, "velocity", "push.velocity"),
        push_base_velocity=_per_joint(push["base_velocity"], 3, source, "push.base_velocity", "x, y, z in m/s")
        if "base_velocity" in push else None,
        raw=data,
    )
