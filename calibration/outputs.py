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

Nothing saved is destroyed (`check_sysid_out`, `Staging`): a folder that already holds a sysid's
files is refused unless the caller forces it; every file of a run is written into a temp folder
inside the output folder first and moved into place only when the run finishes. A fit that fails
(did not converge, or is not adequate and not accepted) never replaces an earlier calibration: its
result.json and report go to `failed_fit/` next to it, so the params.yaml that training reads,
and the result.json and report that describe that params.yaml, stay together.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import yaml

from calibration.errors import OutputError
from sim.params import write_params

DR_SIGMAS = 2.0
DR_MIN_RELATIVE = 0.01
DR_UNIDENTIFIED_RELATIVE = 0.5

CALIBRATION_FILES = ("params.yaml", "randomization.yaml")  # what training reads
SYSID_FILES = ("report.png", "report.html", "result.json", *CALIBRATION_FILES)  # the order they are moved in
FAILED_FIT_DIR = "failed_fit"  # where a failed fit's result and report go when a calibration is kept
_STAGING = re.compile(r"^\.sysid-tmp-(\d+)-")  # Staging's folders: ".sysid-tmp-<pid>-<random>"


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


def holds_calibration(out: Path) -> bool:
    """Whether `out` holds a params.yaml or randomization.yaml of an earlier fit."""
    return any((Path(out) / name).exists() for name in CALIBRATION_FILES)


def check_sysid_out(out: str | Path, force: bool) -> None:
    """Refuse an output folder that is a file, or that holds a sysid's files already (unless ``force``).

    Why refuse: `--out calib/lab1` typed again for a new log would replace the calibration a policy
    was trained on; with ``force`` it may, but only by a fit that succeeds (`Staging`).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file, not a folder; choose a folder for params.yaml, result.json "
                          "and the report")
    if force or not out.is_dir():
        return
    listed = (*CALIBRATION_FILES, "result.json", "report.html", "report.png")
    existing = [name for name in listed if (out / name).exists()]
    if existing:
        what = "a calibration" if holds_calibration(out) else "the results of an earlier fit"
        raise OutputError(
            f"--out {out} already holds {what} ({', '.join(existing)}); choose a new --out, or pass --force to "
            "replace it (a fit that fails never replaces params.yaml / randomization.yaml)"
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # another user's process: it exists
    return True


def remove_stale_staging(out: Path) -> list[Path]:
    """Delete the temp folders of sysid runs that died (SIGKILL, power cut) in `out`; returns them.

    A folder named after a live process is left alone: that process may still be writing it.
    """
    removed = []
    if not Path(out).is_dir():
        return removed
    for path in Path(out).iterdir():
        match = _STAGING.match(path.name)
        if match is not None and path.is_dir() and not _pid_alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class Staging:
    """A temp folder inside `out` that a sysid run writes into; `publish` moves its files into place.

    Each file is moved with `os.replace` (atomic per file, same file system), params.yaml last, so a
    reader never sees a half-written file, and a fit that raises or is killed leaves every earlier
    file untouched (the temp folder of a killed run is removed by the next run in `out`).
    """

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.created_out = not self.out.exists()
        self.out.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(self.out)
        self.dir = Path(tempfile.mkdtemp(prefix=f".sysid-tmp-{os.getpid()}-", dir=self.out))

    def publish(self, dest: Path) -> list[Path]:
        """Move every file written into the temp folder to `dest` (created if needed); returns their paths."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        names = [n for n in SYSID_FILES if (self.dir / n).is_file()]
        names += sorted(p.name for p in self.dir.iterdir() if p.is_file() and p.name not in names)
        for name in names:
            os.replace(self.dir / name, dest / name)
        return [dest / n for n in names]

    def discard(self, keep_out: bool = True) -> None:
        """Remove the temp folder (and `out`, if this run created it and it stayed empty, unless ``keep_out``)."""
        shutil.rmtree(self.dir, ignore_errors=True)
        if not keep_out and self.created_out:
            try:
                self.out.rmdir()
            except OSError:
                pass
