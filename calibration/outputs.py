"""What a fit leaves behind for training: a params file and a DR config, in the formats `train` reads.

- `params.yaml`: absolute values (`name: value`), read by `sim.params.resolve_params` and
  `robot-rl train --params`: every fitted name, plus every other name whose value differs from
  robot.yaml (the fixed values the fit assumed, e.g. from `--params`).
- `randomization.yaml`: `parameters: {name: {uniform: [lo, hi]}}` centred on each fitted value,
  read by `sim.randomization.load_randomization` and `robot-rl train --randomization`; the other
  names' ranges and the `initial_state`/`push` sections come from a base config (the robot's
  `default` one when it has one).

DR half-width = max(DR_SIGMAS x the 95% half-width, DR_MIN_RELATIVE x |value|): a policy should
see at least the values the data cannot rule out, doubled for what one log does not show (other
temperatures, wear, payload), and never a zero-width range. A parameter the log could not
identify (infinite or huge interval) gets +-DR_UNIDENTIFIED_RELATIVE of its value instead, and
the report says so. Ranges are clipped to physical values (mass > 0, everything else >= 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import yaml

from sim.params import write_params

DR_SIGMAS = 2.0
DR_MIN_RELATIVE = 0.01
DR_UNIDENTIFIED_RELATIVE = 0.5


def dr_range(name: str, value: float, half_width: float) -> tuple[float, float, bool]:
    """(low, high, identified) of the uniform DR range around a fitted value."""
    identified = bool(np.isfinite(half_width)) and half_width <= DR_UNIDENTIFIED_RELATIVE * max(abs(value), 1e-12)
    if identified:
        half = max(DR_SIGMAS * half_width, DR_MIN_RELATIVE * abs(value))
    else:
        half = DR_UNIDENTIFIED_RELATIVE * abs(value)
    low, high = value - half, value + half
    floor = 0.05 * value if name.endswith(".mass") else 0.0
    low = max(low, floor)
    if high <= low:
        high = low + max(abs(value) * DR_MIN_RELATIVE, 1e-9)
    return float(low), float(high), identified


def write_params_file(path: Path, values: Mapping[str, float], nominal: Mapping[str, float],
                      fitted: Mapping[str, float], comment: str) -> Path:
    """Fitted names, then every other name that differs from robot.yaml, as absolute values."""
    out = {n: float(v) for n, v in fitted.items()}
    for n, v in values.items():
        if n not in out and not np.isclose(v, nominal[n], rtol=1e-12, atol=0.0):
            out[n] = float(v)
    write_params(path, out, comment=comment)
    return path


def write_randomization_file(path: Path, ranges: Mapping[str, tuple[float, float]], comment: str,
                             base: Mapping | None = None) -> Path:
    """A DR config: a `uniform` range per fitted name, over `base` (a loaded config's raw mapping), if any.

    From `base` come the ranges of the names not fitted and its `initial_state` and `push` sections,
    so calibrating a few parameters does not silently drop the rest of a robot's randomization.
    """
    text = "".join(f"# {line}\n" for line in comment.splitlines())
    data: dict = {k: v for k, v in (base or {}).items() if k != "parameters"}
    params = {n: v for n, v in ((base or {}).get("parameters") or {}).items() if n not in ranges}
    params.update({n: {"uniform": [float(lo), float(hi)]} for n, (lo, hi) in ranges.items()})
    data = {"parameters": params, **data}
    text += yaml.safe_dump(data, sort_keys=False)
    path.write_text(text)
    return path
