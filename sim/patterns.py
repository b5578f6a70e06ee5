"""Glob patterns over the parameter vocabulary: `"*.gain"`, `"*_lower_joint.kd"`, `"FR_*.mass"`.

Why: a quadruped has 12 actuators and 13 links; a params file, a DR config or a `--fit` list that
must spell out every `FR_hip_joint.kp` is long and easy to get subtly wrong. Patterns (Python's
`fnmatch`, case-sensitive: `*`, `?`, `[abc]`) name groups, and are expanded against the robot's
vocabulary before anything else sees them, so the rest of the stack only ever sees exact names.

Rules, the same in every file: a pattern that matches no name of the robot is an error (a typo
must not silently randomize nothing); an exact name always wins over a pattern; among patterns a
later entry wins over an earlier one for the names both match.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import TypeVar

from sim.errors import ConfigError, UnknownParameterError
from sim.validation import did_you_mean

V = TypeVar("V")
GLOB_CHARS = frozenset("*?[")


def is_pattern(key: str) -> bool:
    return any(c in GLOB_CHARS for c in key)


def match(pattern: str, names: Iterable[str]) -> list[str]:
    """Names (in vocabulary order) matching one pattern; an exact name matches itself only."""
    if not is_pattern(pattern):
        return [n for n in names if n == pattern]
    return [n for n in names if fnmatchcase(n, pattern)]


def expand_mapping(mapping: Mapping[str, V], names: Sequence[str], source: str, robot: str = "",
                   field_prefix: str = "") -> dict[str, V]:
    """{pattern or name: value} -> {name: value}, validated against the vocabulary `names`.

    Raises a one-line ConfigError naming `source` and the key: unknown exact name (listing the valid
    ones) or a pattern that matches nothing.
    """
    out: dict[str, V] = {}
    exact: dict[str, V] = {}
    known = set(names)
    for key, value in mapping.items():
        key = str(key)
        if is_pattern(key):
            hits = match(key, names)
            if not hits:
                raise UnknownParameterError(source, field_prefix + key, f"pattern matches no parameter of robot "
                                            f"'{robot}'; valid names: {', '.join(names)}")
            for n in hits:
                out[n] = value
        elif key not in known:
            raise UnknownParameterError(source, field_prefix + key, f"unknown parameter for robot '{robot}'"
                                        f"{did_you_mean(key, names)}; valid names: {', '.join(names)}")
        else:
            exact[key] = value
    out.update(exact)
    return out


def expand_names(keys: Iterable[str], names: Sequence[str], source: str, robot: str = "") -> list[str]:
    """A list of names and patterns (e.g. `--fit "*.gain,action_delay"`) -> exact names, in order, no repeats."""
    out: list[str] = []
    for key in keys:
        key = key.strip()
        hits = match(key, names)
        if not hits:
            what = "pattern matches no parameter" if is_pattern(key) else "unknown parameter"
            near = "" if is_pattern(key) else did_you_mean(key, names)
            raise UnknownParameterError(source, key, f"{what} of robot '{robot}'{near}; valid names: "
                                        f"{', '.join(names)}")
        out.extend(h for h in hits if h not in out)
    if not out:
        raise ConfigError(source, "", f"no parameters named; valid names: {', '.join(names)}")
    return out
