"""One YAML loader and the numeric checks every configuration file goes through.

Why a loader of our own: PyYAML implements YAML 1.1, whose float rule needs a dot *and* a signed
exponent, so ``safe_load`` reads ``1e6``, ``1.0e6`` and ``2.5E-3`` as the *strings* "1e6", "1.0e6",
"2.5E-3". A robot.yaml with ``kp: 1.0e6`` would then fail as "not a number" (or, worse, be
compared as a string). `SafeLoader` here adds the YAML 1.2 float forms and refuses repeated keys
(PyYAML silently keeps the last one, so a second ``velocity_limit:`` would win unseen). It also
drops YAML 1.1's base-60 numbers (``1:30`` would read as 90, ``1:30.5`` as 90.5: a duration or a
ratio written that way must not silently become another number; it stays the string "1:30", which
a number field refuses) and reads ``017`` as 17 and ``0o17`` as octal (YAML 1.2; 1.1 read ``017`` as
15). Nesting deeper than `MAX_NESTING` and values PyYAML cannot construct (``2001-13-45``) are
one-line errors, never a RecursionError or ValueError traceback. Every YAML file the project reads
(robot.yaml, params, randomization, robustness, run config.yaml, ``--set`` values) goes through
`load_yaml_text` / `load_yaml_file`.

Why the numeric checks: ``nan < 0`` and ``nan > 0`` are both False, so a naive ``if value < 0``
lets ``.nan`` through, and a NaN limit silently switches a safety rule off. `check_number` and
`check_interval` refuse NaN/inf first, then the physical range, and say in one line which file,
which field, what was found and what is expected (a `ConfigError`).

Why `check_keys`: a key nobody reads is a setting silently not applied. ``velocity_limt: 1.0`` in a
joint entry left the URDF's limit in force; every mapping of a configuration file is checked against
the keys its reader knows, and an unknown one names the nearest valid key (`did_you_mean`).

Standard library and PyYAML only: the deploy machine loads robot.yaml through this module.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from sim.errors import ConfigError

__all__ = [
    "MAX_NESTING",
    "SafeLoader",
    "base60_hint",
    "check_interval",
    "check_keys",
    "check_number",
    "did_you_mean",
    "is_number",
    "load_yaml_file",
    "load_yaml_mapping",
    "load_yaml_text",
    "yaml_error_line",
]

# YAML 1.2 core-schema floats that YAML 1.1 (PyYAML) reads as strings: an exponent without a dot
# (1e6, -2.5E-3 is already 1.1) or an exponent without a sign (1.0e6). Checked after PyYAML's own
# int and float rules, so everything they accept keeps its meaning.
_FLOAT_12 = re.compile(
    r"""^[-+]?(?:
        [0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+
        |\.[0-9_]+[eE][-+]?[0-9]+
    )$""",
    re.X,
)


# A configuration file is a few levels deep; PyYAML composes nested nodes recursively, so a
# hostile 50k-deep file would end in a RecursionError traceback. Refused at this depth instead.
MAX_NESTING = 100
_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
# PyYAML's YAML 1.1 int and float rules without the base-60 forms (1:30, 1:30.5); 0o17 is octal. The
# same strings as 1.1 are ints (017 too, now decimal; 08 stays a string, as PyYAML's dumper expects).
_INT_NO_BASE60 = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0o[0-7_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)
_FLOAT_NO_BASE60 = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")


class SafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` plus YAML 1.2 numbers (exponent floats; no base 60; 017 is 17), refusing
    repeated mapping keys and nesting deeper than `MAX_NESTING`."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_NESTING} levels deep (a configuration file needs a few)",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        """YAML 1.2 integers: 0b, 0o and 0x prefixes; a leading zero is decimal (YAML 1.1: octal)."""
        text = str(self.construct_scalar(node)).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        text = text.lstrip("+-")
        for prefix, base in (("0b", 2), ("0o", 8), ("0x", 16)):
            if text.startswith(prefix):
                return sign * int(text[2:], base)
        return sign * int(text)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key; the base class reports it
                break
            if repeated:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"found the key {key!r} twice", key_node.start_mark
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


SafeLoader.yaml_implicit_resolvers = {
    first: [
        (tag, _INT_NO_BASE60 if tag == _INT_TAG else _FLOAT_NO_BASE60 if tag == _FLOAT_TAG else regexp)
        for tag, regexp in resolvers
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SafeLoader.add_implicit_resolver(_FLOAT_TAG, _FLOAT_12, list("-+0123456789."))
SafeLoader.add_constructor(_INT_TAG, SafeLoader.construct_yaml_int)


def yaml_error_line(exc: yaml.YAMLError) -> str:
    """A PyYAML error as one line: where (line, column) and what; PyYAML's own text spans several lines."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = exc.problem or exc.context or "malformed"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        return f"not valid YAML{where}: {problem}{context}"
    return "not valid YAML: " + " ".join(str(exc).split())


def load_yaml_text(text: str, source: str = "<text>") -> Any:
    """Parse YAML with `SafeLoader`; a syntax error is a one-line `ConfigError` naming `source`."""
    try:
        return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - SafeLoader subclass, no arbitrary objects
    except yaml.YAMLError as exc:
        raise ConfigError(source, "", yaml_error_line(exc)) from None
    except RecursionError:  # deep nesting of a kind compose_node does not count (it counts every node)
        raise ConfigError(source, "", f"not valid YAML: nested too deeply (at most {MAX_NESTING} levels)") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a scalar PyYAML cannot construct: 2001-13-45
        raise ConfigError(source, "", f"not valid YAML: a value cannot be read ({exc})") from None


def load_yaml_file(path: str | Path, what: str = "YAML") -> Any:
    """Read and parse a YAML file; missing, unreadable or malformed files are one-line `ConfigError`s."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "", f"{what} file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", f"cannot read the {what} file ({exc})") from None
    return load_yaml_text(text, str(path))


def load_yaml_mapping(path: str | Path, what: str) -> dict:
    """A YAML file that must hold a mapping (an empty file is an empty mapping)."""
    data = load_yaml_file(path, what)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", f"expected a mapping for a {what} file, got {type(data).__name__}")
    return data


def is_number(value: Any) -> bool:
    """A real number (int or float, bool excluded); NaN and inf count as numbers here."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def did_you_mean(key: Any, valid: Iterable[Any]) -> str:
    """``"; did you mean 'velocity_limit'?"`` for the valid key nearest to `key` (difflib), or ""."""
    close = difflib.get_close_matches(str(key), [str(v) for v in valid], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def check_keys(data: Mapping[Any, Any], valid: Iterable[str], source: str, prefix: str = "",
               what: str = "key") -> None:
    """Refuse a key of `data` that is not in `valid`: a `ConfigError` naming the field, the nearest
    valid key and all of them (``prefix`` is the dotted path of `data`, e.g. ``"joints[0]."``)."""
    valid = list(valid)
    for key in data:
        if key not in valid:
            raise ConfigError(source, f"{prefix}{key}", f"unknown {what}{did_you_mean(key, valid)} "
                              f"(valid names: {', '.join(valid)})")


def base60_hint(value: Any) -> str:
    """A note for a string YAML 1.1 would have read as a base-60 number (``1:30`` -> 90)."""
    if isinstance(value, str) and _BASE60.match(value.strip()):
        return " (YAML 1.1 reads 1:30 as the base-60 number 90; this project does not: write one plain number)"
    return ""


def _range_text(minimum: float | None, maximum: float | None, min_open: bool, max_open: bool) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if min_open else '>='} {minimum:g}")
    if maximum is not None:
        parts.append(f"{'<' if max_open else '<='} {maximum:g}")
    return " and ".join(parts)


def check_number(
    value: Any,
    source: str,
    field: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    integer: bool = False,
    unit: str = "",
) -> float:
    """`value` as a float if it is a finite number inside the range, else a `ConfigError`.

    ``minimum``/``maximum`` are inclusive unless ``min_open``/``max_open``; ``unit`` only words the
    message ("expected a finite number > 0 (Hz)").
    """
    kind = "an integer" if integer else "a finite number"
    limits = _range_text(minimum, maximum, min_open, max_open)
    expected = f"{kind}{' ' + limits if limits else ''}{f' ({unit})' if unit else ''}"
    if not is_number(value) or (integer and not float(value).is_integer()):
        raise ConfigError(source, field, f"got {value!r}; expected {expected}{base60_hint(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ConfigError(source, field, f"got {value!r}; expected {expected}")
    too_low = minimum is not None and (number <= minimum if min_open else number < minimum)
    too_high = maximum is not None and (number >= maximum if max_open else number > maximum)
    if too_low or too_high:
        raise ConfigError(source, field, f"got {value!r}; expected {expected}")
    return number


def check_interval(
    value: Any,
    source: str,
    field: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_open: bool = False,
    strict: bool = False,
    unit: str = "",
) -> tuple[float, float]:
    """``[lower, upper]``: two finite numbers in range, lower <= upper (< if ``strict``), else a `ConfigError`.

    ``minimum``/``min_open`` bound the lower end (e.g. a mass range stays > 0), ``maximum`` the upper.
    """
    order = "lower < upper" if strict else "lower <= upper"
    parts = []
    if minimum is not None:
        parts.append(f"lower {'>' if min_open else '>='} {minimum:g}")
    if maximum is not None:
        parts.append(f"upper <= {maximum:g}")
    limits = " and ".join(parts)
    shape = f"[lower, upper], two finite numbers with {order}{', ' + limits if limits else ''}"
    shape += f" ({unit})" if unit else ""
    if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(is_number(v) for v in value):
        raise ConfigError(source, field, f"got {value!r}; expected {shape}")
    lo, hi = float(value[0]), float(value[1])
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ConfigError(source, field, f"got {list(value)!r}; expected {shape}")
    if lo > hi or (strict and lo == hi):
        raise ConfigError(source, field, f"got {list(value)!r}: the bounds are inverted; expected {shape}")
    if minimum is not None and (lo <= minimum if min_open else lo < minimum):
        raise ConfigError(source, field, f"got {list(value)!r}: lower bound out of range; expected {shape}")
    if maximum is not None and hi > maximum:
        raise ConfigError(source, field, f"got {list(value)!r}: upper bound out of range; expected {shape}")
    return lo, hi


def joint_pose(pose: Any, joints: Iterable[Any], source: str, field: str) -> tuple[float, ...]:
    """A robot.yaml pose (a mapping joint name -> position, rad or m) as one value per joint in order:
    names must be listed joints, values finite and within each joint's position limits; joints left out
    are 0. `joints`: the robot's JointSpecs (name, position_limits). Why one function: the legged default
    pose and the reach home are the same kind of field, and must be refused the same way."""
    joints = list(joints)
    names = [j.name for j in joints]
    if not isinstance(pose, dict):
        raise ConfigError(source, field, f"got {pose!r}; expected a mapping joint name -> position (rad or m); "
                          "joints left out are 0")
    for key, value in pose.items():
        if key not in names:
            raise ConfigError(source, f"{field}.{key}", f"not a listed joint{did_you_mean(key, names)} "
                              f"(expected one of {', '.join(names)})")
        check_number(value, source, f"{field}.{key}", unit="rad or m")
    values = tuple(float(pose.get(n, 0.0)) for n in names)
    for j, v in zip(joints, values, strict=True):
        if j.position_limits is not None and not j.position_limits[0] <= v <= j.position_limits[1]:
            raise ConfigError(source, f"{field}.{j.name}", f"{v:g} is outside the joint's limits "
                              f"{list(j.position_limits)}" + ("" if j.name in pose else " (left out: 0)"))
    return values
