"""An algorithm's settings from a run's overrides: the typed, checked config dataclass.

Why its own module: the training runner (robot_rl/train.py) and the Ray rollout workers
(robot_rl/distributed/rollout.py) both build an algorithm's config from a RunConfig's settings, and
the runner hands `--workers` runs to the workers' module; kept in the runner, the two modules imported
each other. `robot_rl.train` re-exports both names.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from robot_rl.algos import ALGORITHMS
from robot_rl.errors import RobotRLError
from robot_rl.training.setting_ranges import check_combination, check_settings


class RunConfigError(RobotRLError):
    """A run configuration (command line or config.yaml) is invalid."""


def algo_config(algo: str, overrides: dict[str, Any]) -> Any:
    """The algorithm's config dataclass with ``overrides`` applied; unknown keys are an error."""
    if algo not in ALGORITHMS:
        raise RunConfigError(f"unknown algorithm '{algo}'; choose one of {sorted(ALGORITHMS)}")
    cfg_cls = ALGORITHMS[algo].config_cls
    fields = {f.name: f for f in dataclasses.fields(cfg_cls)}
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise RunConfigError(f"unknown {algo} setting(s) {unknown}; known settings: {', '.join(sorted(fields))}")
    values = {name: _coerce_setting(algo, name, str(fields[name].type), value) for name, value in overrides.items()}
    check_settings(algo, values)
    if "hidden" in values:
        values["hidden"] = tuple(int(w) for w in values["hidden"])
    cfg = cfg_cls(**values)
    check_combination(algo, cfg)
    return cfg


def _coerce_setting(algo: str, name: str, annotation: str, value: Any) -> Any:
    """Check one setting against its declared type; numbers written as strings become numbers.

    YAML 1.1 (PyYAML) reads ``1e-3`` as the string "1e-3" (it wants ``1.0e-3``), so ``--set
    learning_rate=1e-3`` arrives as a string: it is converted here instead of failing deep in torch.
    """
    optional = annotation.endswith("| None")
    base = annotation.removesuffix("| None").strip()
    if value is None and optional:
        return None
    expected = {"float": float, "int": int, "bool": bool}.get(base)
    if expected is None:
        return value
    if expected is bool:
        if isinstance(value, bool):
            return value
    elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            if expected is float:
                return number
            if number.is_integer():
                return int(number)
    hint = " or null" if optional else ""
    raise RunConfigError(f"{algo} setting '{name}' must be {base}{hint}, got {value!r}")


__all__ = ["RunConfigError", "algo_config"]
