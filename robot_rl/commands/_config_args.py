"""Command-line flags derived from a config dataclass, as the ROS package derives its parameters.

Why: `robot-rl deploy` and ``ros2 run robot_rl_ros policy_node`` configure the same node. The ROS
package declares one parameter per field of the node's config dataclass (`robot_rl_ros.params`);
this module adds one flag per field to an argparse parser, with the help, flag name and bounds
the field's metadata carries (`robot_rl.deploy.control_config.option`), and reads them back. A
field added to the dataclass becomes a flag and a parameter at once; a test checks they match.
(Not a command module: the leading underscore keeps it out of `robot-rl`'s command list.)
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any, TypeVar

from robot_rl.commands._args import number

C = TypeVar("C")


def _flag(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def _value_type(cls: type, f: dataclasses.Field) -> type:
    """The field's type with Optional removed (``float | None`` -> float)."""
    tp = typing.get_type_hints(cls)[f.name]
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if args else tp


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, only: tuple[str, ...] | None = None,
                         first: tuple[str, ...] = ()) -> None:
    """One flag per field of `cls` (or of the fields named in `only`), the fields named in `first`
    first, then in field order, grouped as the metadata says. A field without a default is a
    required flag; a bool defaulting to False a switch."""
    groups: dict[str, Any] = {}
    ordered = sorted(dataclasses.fields(cls), key=lambda f: first.index(f.name) if f.name in first else len(first))
    for f in ordered:
        if only is not None and f.name not in only:
            continue
        meta = f.metadata
        title = meta.get("group")
        target = parser if title is None else groups.setdefault(title, parser.add_argument_group(title))
        kwargs: dict[str, Any] = {"dest": f.name, "help": meta.get("help") or None}
        value_type = _value_type(cls, f)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if value_type is bool:
            if f.default is not False:
                raise TypeError(f"{cls.__name__}.{f.name}: a command-line switch must default to False")
            target.add_argument(_flag(f), action="store_true", **kwargs)
            continue
        if required:
            kwargs["required"] = True
        else:
            kwargs["default"] = f.default
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        bounds = meta.get("bounds")
        if bounds is not None:
            kwargs["type"] = number(bounds[0], bounds[1], min_open=meta.get("min_open", False), what=meta["what"])
        elif value_type is not str:
            kwargs["type"] = value_type
        target.add_argument(_flag(f), **kwargs)


def config_from_args(cls: type[C], args: argparse.Namespace, **fixed: Any) -> C:
    """The dataclass from parsed flags (every field by its name); `fixed` overrides fields."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    values.update(fixed)
    return cls(**values)


def flag_of(cls: type, name: str) -> str:
    """The command-line flag of a field (``watchdog_timeout`` -> ``--watchdog``), for messages."""
    return next(_flag(f) for f in dataclasses.fields(cls) if f.name == name)
