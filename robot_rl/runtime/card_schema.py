"""The typed schema of `policy.json`: every field the runtime, `robot-rl policies` and `eval` read.

Why: a model card is a file a user is handed or edits. Reading it with ``card["robot"]["joints"]``
turns a wrongly typed field into a ``TypeError`` traceback somewhere deep in the runtime, and
Python's ``json`` module accepts ``NaN`` and ``Infinity``, so a ``"velocity_limit": NaN`` would
pass every ``<``/``>`` comparison. `validate_card` checks the whole card once, when it is read,
against `CARD` below and raises a one-line `PolicyContractError` naming the file, the field (a
dotted path such as ``robot.joints[1].velocity_limit``), what was found and what is expected.

Fields the exporter writes for people (notes, units, descriptions of evaluation conditions) are
typed loosely; fields a program reads are typed exactly. An unknown field in a section a program
reads is refused, naming the nearest known field (difflib): a hand-edited ``"velocity_limt"`` or
``"clp"`` must not be silently ignored. The records of provenance (``training``, ``evaluation``,
``export``; ``notes`` and ``training_curve`` at the top) stay open: they only inform people, and
keep whatever an exporter or a loop recorded. A field the runtime must read in a newer card means a
new ``schema`` version. Standard library only (the deploy machine has no torch).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robot_rl.errors import PolicyContractError

__all__ = ["CARD", "validate_card"]


class _Invalid(Exception):
    """Raised inside validation with the dotted path of the field and what it expected."""

    def __init__(self, path: str, value: Any, expected: str, unknown: bool = False):
        super().__init__(path)
        self.path, self.value, self.expected, self.unknown = path, value, expected, unknown


class Spec:
    """One field's type and range."""

    def describe(self) -> str:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def check(self, value: Any, path: str) -> None:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class Str(Spec):
    pattern: str | None = None
    what: str = "a string"

    def describe(self) -> str:
        return self.what

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or (self.pattern is not None and not re.fullmatch(self.pattern, value)):
            raise _Invalid(path, value, self.describe())


@dataclass(frozen=True)
class Bool(Spec):
    def describe(self) -> str:
        return "true or false"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            raise _Invalid(path, value, self.describe())


@dataclass(frozen=True)
class Num(Spec):
    """A JSON number; finite unless ``finite=False``; ``integer`` refuses fractions."""

    minimum: float | None = None
    maximum: float | None = None
    min_open: bool = False
    integer: bool = False
    finite: bool = True

    def describe(self) -> str:
        kind = "an integer" if self.integer else ("a finite number" if self.finite else "a number")
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.min_open else '>='} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"<= {self.maximum:g}")
        return f"{kind} {' and '.join(parts)}".strip()

    def check(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _Invalid(path, value, self.describe())
        if not math.isfinite(value):
            if self.finite or self.integer:
                raise _Invalid(path, value, self.describe())
            return
        if self.integer and not float(value).is_integer():
            raise _Invalid(path, value, self.describe())
        if self.minimum is not None and (value <= self.minimum if self.min_open else value < self.minimum):
            raise _Invalid(path, value, self.describe())
        if self.maximum is not None and value > self.maximum:
            raise _Invalid(path, value, self.describe())


@dataclass(frozen=True)
class OneOf(Spec):
    values: tuple[str, ...]

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)

    def check(self, value: Any, path: str) -> None:
        if value not in self.values or not isinstance(value, str):
            raise _Invalid(path, value, self.describe())


@dataclass(frozen=True)
class Opt(Spec):
    """``null`` or the inner spec."""

    inner: Spec

    def describe(self) -> str:
        return f"{self.inner.describe()} or null"

    def check(self, value: Any, path: str) -> None:
        if value is not None:
            self.inner.check(value, path)


@dataclass(frozen=True)
class Anything(Spec):
    def describe(self) -> str:
        return "any value"

    def check(self, value: Any, path: str) -> None:
        return None


@dataclass(frozen=True)
class List(Spec):
    item: Spec
    min_len: int = 0
    length: int | None = None

    def describe(self) -> str:
        if self.length is not None:
            return f"a list of {self.length} x {self.item.describe()}"
        return f"a {'non-empty ' if self.min_len else ''}list of {self.item.describe()}"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, list) or len(value) < self.min_len or (
            self.length is not None and len(value) != self.length
        ):
            raise _Invalid(path, value, self.describe())
        for i, item in enumerate(value):
            self.item.check(item, f"{path}[{i}]")


@dataclass(frozen=True)
class Interval(Spec):
    """``[lower, upper]``: two finite numbers, lower < upper."""

    def describe(self) -> str:
        return "[lower, upper], two finite numbers with lower < upper"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, list) or len(value) != 2:
            raise _Invalid(path, value, self.describe())
        Num().check(value[0], f"{path}[0]")
        Num().check(value[1], f"{path}[1]")
        if not value[0] < value[1]:
            raise _Invalid(path, value, self.describe())


@dataclass(frozen=True)
class Obj(Spec):
    """A JSON object: ``required`` fields must be present, ``optional`` ones are checked if present;
    any other field is refused unless ``open`` (a record for people, whatever it holds)."""

    required: Mapping[str, Spec] = field(default_factory=dict)
    optional: Mapping[str, Spec] = field(default_factory=dict)
    what: str = "an object"
    open: bool = False

    def describe(self) -> str:
        keys = ", ".join(self.required)
        return f"{self.what} with {keys}" if keys else self.what

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _Invalid(path, value, self.describe())
        prefix = f"{path}." if path else ""
        if not self.open:
            known = [*self.required, *self.optional]
            for key in value:
                if key not in known:
                    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                    near = f"did you mean '{close[0]}'? " if close else ""
                    raise _Invalid(prefix + str(key), value[key], f"{near}(valid names: {', '.join(known)})",
                                   unknown=True)
        for key, spec in self.required.items():
            if key not in value:
                raise _Invalid(prefix + key, _MISSING, spec.describe())
            spec.check(value[key], prefix + key)
        for key, spec in self.optional.items():
            if key in value:
                spec.check(value[key], prefix + key)


@dataclass(frozen=True)
class MapOf(Spec):
    """A JSON object whose values all follow ``value`` (keys are names, e.g. evaluation conditions)."""

    value: Spec

    def describe(self) -> str:
        return f"an object of name -> {self.value.describe()}"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _Invalid(path, value, self.describe())
        for key, item in value.items():
            self.value.check(item, f"{path}.{key}")


_MISSING = object()
JOINT_TYPES = ("prismatic", "revolute", "continuous")
ACTUATOR_TYPES = ("force", "position")
POSITIVE = Num(0.0, min_open=True)
NON_NEGATIVE = Num(0.0)
COUNT = Num(1, integer=True)
INDEX = Num(0, integer=True)

JOINT = Obj(
    required={
        "name": Str(),
        "type": OneOf(JOINT_TYPES),
        "position_limits": Opt(Interval()),
        "velocity_limit": POSITIVE,
        "effort_limit": NON_NEGATIVE,
    },
    optional={"units": Obj(optional={"position": Str(), "velocity": Str(), "effort": Str()})},
)
ACTUATOR = Obj(
    required={
        "name": Str(),
        "joint": Str(),
        "type": OneOf(ACTUATOR_TYPES),
        "gain": POSITIVE,
        "kp": NON_NEGATIVE,
        "kd": NON_NEGATIVE,
        "effort_limit": POSITIVE,
    }
)
LAYOUT_FIELD = Obj(
    required={"name": Str(), "size": COUNT, "unit": Str(), "description": Str()}, optional={"start": INDEX}
)
TENSOR = Obj(required={"name": Str(), "shape": List(Anything()), "dtype": Str()}, optional={"range": List(Num())})
RESULT = Obj(
    optional={
        "mean_return": Num(finite=False),
        "std_return": Num(finite=False),
        "success_rate": Opt(Num(0.0, 1.0)),
        "episodes": INDEX,
        "filtered_step_fraction": Num(0.0, 1.0),
        "fault_episodes": INDEX,
    },
    what="an evaluation result object",
    open=True,  # min/max returns, lengths, ...: whatever the evaluation measured
)
# evaluation.robustness / robustness_mujoco: what `robot-rl policies` reads of robustness.yaml's cases.
ROBUSTNESS = Obj(
    required={"engine": Str(), "cases": MapOf(RESULT)}, what="a robustness record", open=True
)

CARD = Obj(
    required={
        "schema": Str(),
        "task": Str(),
        "robot": Obj(
            required={
                "name": Str(),
                "joint_order": List(Str(), min_len=1),
                "joints": List(JOINT, min_len=1),
                "actuators": List(ACTUATOR, min_len=1),
                "control_hz": POSITIVE,
            }
        ),
        "observation": Obj(
            required={"size": COUNT, "layout": List(LAYOUT_FIELD, min_len=1), "command_size": INDEX},
            optional={"dtype": Str(), "built_by": Str(), "normalization": Str()},
        ),
        "action": Obj(
            required={"size": COUNT, "offset": List(Num(), min_len=1), "scale": List(Num(), min_len=1)},
            optional={"range": List(Num(), length=2), "to_command": Str(), "actuators": List(Anything())},
        ),
        "onnx": Obj(
            required={
                "file": Str(r"[^/\\]+", "a file name inside the policy folder"),
                "sha256": Str(r"[0-9a-f]{64}", "a SHA-256 digest, 64 lowercase hex digits"),
                "opset": COUNT,
            },
            optional={"input": TENSOR, "output": TENSOR},
        ),
    },
    optional={
        "name": Str(),
        "control": Obj(required={"hz": POSITIVE, "dt": POSITIVE}, optional={"note": Str()}),
        "normalization": Obj(
            optional={
                "inside_graph": Bool(),
                "formula": Str(),
                "mean": List(Num()),
                "var": List(NON_NEGATIVE),
                "eps": NON_NEGATIVE,
                "clip": Opt(POSITIVE),
            }
        ),
        "parity": Obj(
            optional={"passed": Bool(), "samples": INDEX, "tolerance": NON_NEGATIVE, "seed": Opt(Num(integer=True)),
                      "max_abs_diff_batched": NON_NEGATIVE, "max_abs_diff_single": NON_NEGATIVE,
                      "worst_index": Opt(INDEX)}
        ),  # fmt: skip
        "training": Opt(
            Obj(
                optional={
                    "algo": Opt(Str()),
                    "seed": Opt(Num(integer=True)),
                    "global_step": Opt(INDEX),
                    "command": Opt(Str()),
                    "engine": Opt(Str()),
                },
                open=True,  # the run's config, network, paths: provenance for people
            )
        ),
        "evaluation": Opt(
            Obj(
                optional={"results": MapOf(RESULT), "episodes": INDEX, "robustness": Opt(ROBUSTNESS),
                          "robustness_mujoco": Opt(ROBUSTNESS)},
                open=True,  # gap and deploy-chain checks of the loops, seeds, notes
            )
        ),
        "export": Opt(Obj(optional={"command": Opt(Str()), "created": Str()}, open=True)),
        "reproduce": List(Str()),
        "notes": Anything(),
        "training_curve": Anything(),
    },
    what="a model card object",
)


def _shown(value: Any) -> str:
    if value is _MISSING:
        return "missing"
    text = repr(value)
    return "is " + (text if len(text) <= 60 else text[:57] + "...")


def validate_card(card: Any, card_path: str | Path, spec: Spec = CARD) -> None:
    """Check a parsed policy.json against the schema; a mismatch is one `PolicyContractError` line."""
    try:
        spec.check(card, "")
    except _Invalid as bad:
        where = f"field '{bad.path}'" if bad.path else "the card"
        if bad.unknown:
            raise PolicyContractError(
                f"{card_path}: {where} is unknown; {bad.expected} (fix the field name or re-export the policy "
                "with `robot-rl export`)"
            ) from None
        raise PolicyContractError(
            f"{card_path}: {where} {_shown(bad.value)}; expected {bad.expected} (fix the field or re-export "
            "the policy with `robot-rl export`)"
        ) from None
