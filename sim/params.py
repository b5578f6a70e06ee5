"""The one parameter vocabulary: names, params files, and resolution to absolute values.

A physical parameter has one name everywhere: `<link>.mass`, `<joint>.damping`,
`<joint>.frictionloss`, `<joint>.armature`, `<actuator>.gain`, `<actuator>.kp`, `<actuator>.kd`,
`action_delay` (seconds) and `obs_noise` (std, in the joint's units). Domain randomization samples
these names, a params file sets them, system identification fits them.

Legged robots add `<base>.mass`, `<base>.com_x|com_y|com_z` (signed centre-of-mass offsets, m)
and `floor.friction`.

A params file is YAML mapping names to an absolute value or to `{scale: s}` of the nominal one;
keys may be glob patterns naming groups (sim/patterns.py: a pattern matching nothing is an error,
an exact name wins over a pattern):

    pole.mass: 0.25
    hinge.damping: {scale: 1.5}
    "*.gain": {scale: 0.9}

Every value is checked against its parameter's physical range (`sim.robot.parameter_range`: e.g.
`action_delay` at most 1 s, `obs_noise` at most 10) and a scale against [0, MAX_SCALE]; an unknown
name or key is an error naming the nearest valid one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sim.errors import ConfigError, UnknownParameterError
from sim.patterns import expand_mapping
from sim.robot import MAX_SCALE, RobotSpec, check_parameter, is_signed_parameter
from sim.validation import base60_hint, check_keys, check_number, did_you_mean
from sim.validation import load_yaml_mapping as _load_yaml_mapping

ParamsLike = str | Path | Mapping[str, Any] | None


def parameter_names(robot: RobotSpec) -> list[str]:
    """Every name of the vocabulary this robot has, in a stable order."""
    return list(robot.nominal)


def check_name(robot: RobotSpec, name: str, source: str) -> None:
    if name not in robot.nominal:
        raise UnknownParameterError(
            source, name, f"unknown parameter for robot '{robot.name}'{did_you_mean(name, robot.nominal)} "
            f"(valid names: {', '.join(robot.nominal)})"
        )


def load_yaml_mapping(path: str | Path, what: str) -> dict:
    """A YAML mapping file read with the project's loader (sim.validation: `1e6` is a number)."""
    return _load_yaml_mapping(path, what)


def _number(value: Any, source: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(source, field, f"got {value!r}; expected a number or {{scale: s}}{base60_hint(value)}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(source, field, f"got {value!r}; expected a finite number")
    return value


def resolve_params(robot: RobotSpec, params: ParamsLike = None) -> dict[str, float]:
    """Absolute values of every parameter: nominal, overridden by `params` (file path or mapping)."""
    values = dict(robot.nominal)
    if params is None:
        return values
    if isinstance(params, (str, Path)):
        source = str(params)
        data = load_yaml_mapping(params, "params")
    else:
        source = "params"
        data = dict(params)
    for name, spec in expand_mapping(data, list(robot.nominal), source, robot.name).items():
        if isinstance(spec, dict):
            check_keys(spec, ("scale",), source, f"{name}.")
            if "scale" not in spec:
                raise ConfigError(source, name, f"got {spec!r}; expected an absolute value or {{scale: s}}")
            scale = _number(spec["scale"], source, f"{name}.scale")
            scale = check_number(scale, source, f"{name}.scale", minimum=0.0, maximum=MAX_SCALE,
                                 unit="a factor of the nominal value")
            value = robot.nominal[name] * scale
        else:
            value = _number(spec, source, name)
        values[name] = _physical(name, value, source, name)
    return values


def _physical(name: str, value: float, source: str, field: str) -> float:
    """`value` inside the physical range of parameter `name` (a mass > 0, a delay <= 1 s, ...)."""
    if value < 0 and not is_signed_parameter(name):
        raise ConfigError(source, field, f"resolves to {value:g}; physical parameters must be >= 0")
    if name.endswith(".mass") and value <= 0:
        raise ConfigError(source, field, f"resolves to {value:g}; a link mass must be > 0")
    return check_parameter(name, value, source, field)


def write_params(path: str | Path, values: Mapping[str, float], comment: str = "") -> None:
    """Write a params file that `resolve_params` (and `robot-rl train --params`) reads back."""
    text = "".join(f"# {line}\n" for line in comment.splitlines())
    text += yaml.safe_dump({k: float(v) for k, v in values.items()}, sort_keys=False)
    Path(path).write_text(text)
