"""ROS parameters -> the config dataclasses of `robot_rl.deploy`, one parameter per field.

The parameter names are the dataclass field names (``policy``, ``robot``, ``state_topic``, ...),
so a YAML params file, ``-p name:=value`` and the DDS command line all set the same things.
Every field is declared, so ``ros2 param list`` shows the full configuration.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from robot_rl.deploy.errors import DeployError

C = TypeVar("C")


def param(node: Any, name: str, default: Any) -> Any:
    """A parameter's value, declaring it with `default` unless launch or a params file already did."""
    if not node.has_parameter(name):
        node.declare_parameter(name, default)
    return node.get_parameter(name).value


def load_config(
    node: Any, config_cls: type[C], required: tuple[str, ...] = (), skip: tuple[str, ...] = ("node_name",), **fixed: Any
) -> C:
    """Read `config_cls` from `node`'s parameters; fields in `fixed` are set by the caller."""
    values: dict[str, Any] = dict(fixed)
    for name in required:  # in the caller's order: the first one missing is named
        if name not in fixed and not node.has_parameter(name):
            raise DeployError(
                f"parameter '{name}' of node '{node.get_name()}' is required: set it in "
                f"the params file or with --ros-args -p {name}:=VALUE"
            )
    for f in dataclasses.fields(config_cls):
        if f.name in skip or f.name in fixed:
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        if not node.has_parameter(f.name):
            if default is None:
                continue  # optional with no default: leave the dataclass default (None)
            node.declare_parameter(f.name, default)
        value = node.get_parameter(f.name).value
        if value is None or (value == "" and default is None):
            continue
        values[f.name] = value
    return config_cls(**values)
