"""Argument types that refuse impossible values at the command line, with the flag in the message.

Why: ``type=int`` accepts ``--steps 0`` and ``--steps -5``, and the value then means something
else downstream (``args.steps or DEFAULT`` turned 0 into a million steps). With these types
argparse rejects the value and names the flag: ``argument --steps: expected an integer >= 1, got '0'``.
(Not a command module: the leading underscore keeps it out of `robot-rl`'s command list.)
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from robot_rl.training.setting_ranges import MAX_NUM_ENVS, MAX_SEED


def integer(minimum: int, maximum: int | None = None, why: str = "") -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum`` (and <= ``maximum``; ``1e6`` is accepted as 1000000).

    ``why`` words the upper bound in the message (``"at most 65536 parallel envs"``).
    """
    expected = f"an integer >= {minimum}" + (f" and <= {maximum}" if maximum is not None else "")
    expected += f" ({why})" if why else ""

    def parse(text: str) -> int:
        try:
            value = float(text) if any(c in text for c in ".eE") else int(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not math.isfinite(value) or not float(value).is_integer() or value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return int(value)

    parse.__name__ = expected
    return parse


positive_int = integer(1)
non_negative_int = integer(0)
seed_int = integer(0, MAX_SEED, "a random seed")  # why the bound: robot_rl.training.setting_ranges
num_envs_int = integer(1, MAX_NUM_ENVS, "parallel envs in one process")


def number(
    minimum: float, maximum: float | None = None, min_open: bool = False, what: str = "a finite number"
) -> Callable[[str], float]:
    """An argparse type: a finite number in the range (``min_open``: strictly above ``minimum``)."""
    low = f"{'>' if min_open else '>='} {minimum:g}"
    expected = f"{what} {low}" + (f" and <= {maximum:g}" if maximum is not None else "")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        too_low = value <= minimum if min_open else value < minimum
        if not math.isfinite(value) or too_low or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


def seconds(minimum: float, maximum: float | None = None, min_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds in the range."""
    return number(minimum, maximum, min_open, what="a finite number of seconds")
