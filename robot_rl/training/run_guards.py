"""Checks that keep `robot-rl train` from losing work or silently doing something else than asked.

* `check_out_dir`: ``--out`` at a folder that already holds files which are not a run is refused
  unless ``--force`` (a typo such as ``--out ~/`` must not scatter config.yaml, metrics.csv and
  checkpoints/ among someone's files); a folder that holds a run is never started over
  (``--resume`` continues it; delete it to start over).
* `remove_stale_temp_files`: a checkpoint, config.yaml or metrics.csv write interrupted by a
  SIGKILL or a power cut leaves its temp file (the real file is only ever replaced atomically);
  the next start of the run removes those of processes that are gone.
* `params_randomization_overlap`: a parameter set by ``--params`` and also sampled by the
  randomization config is drawn from the range at every episode. Which one wins depends on the
  range's kind, so the user is told, by name, instead of finding out from a policy that never
  saw the calibrated value.
* `check_run_numbers`: steps and intervals of a run (from the command line or a hand-edited
  config.yaml) are positive integers where they must be.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from robot_rl.errors import RobotRLError

# Markers of a run folder (robot_rl.train writes these) and of its interrupted writes.
RUN_MARKERS = ("config.yaml", "checkpoints/last.pt")
# save_checkpoint: ".<name>.tmp-<pid>"; Trainer._write_config: "config.yaml.tmp";
# MetricsLogger: ".metrics.csv.tmp-<pid>".
_TEMP_PID = re.compile(r"^\..+\.tmp-(\d+)$")
_TEMP_PLAIN = ("config.yaml.tmp",)

PARAMS_VS_RANDOMIZATION = (
    "--params sets the base value of each parameter; a parameter the --randomize config also samples "
    "is drawn from its range at every episode: a scale_uniform range multiplies the --params value, a "
    "uniform or log_uniform range replaces it (a warning names such parameters; use --randomize none, "
    "or remove them from the config, to keep the --params values fixed)"
)


class OutDirError(RobotRLError):
    """``--out`` points at a folder whose contents a run would mix with or overwrite."""


def holds_run(folder: Path) -> bool:
    """Whether ``folder`` is a training run folder (has config.yaml or a resume checkpoint)."""
    return any((folder / marker).exists() for marker in RUN_MARKERS)


def check_out_dir(out: Path, force: bool, flag: str = "--out") -> None:
    """Refuse an ``--out`` that is a file, holds a run, or holds other files (the latter unless ``force``)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutDirError(f"{flag} {out} is a file, not a folder; choose a new folder for the run")
    if not out.is_dir():
        return
    if holds_run(out):
        raise OutDirError(
            f"{flag} {out} already holds a run; continue it with --resume {out}, or choose another {flag} "
            "(delete the folder yourself to start over)"
        )
    entries = sorted(p.name for p in out.iterdir())
    if entries and not force:
        shown = ", ".join(entries[:3]) + (f", ... ({len(entries)} entries)" if len(entries) > 3 else "")
        raise OutDirError(
            f"{flag} {out} is not empty and is not a run (holds {shown}); choose a new or empty folder, "
            "or pass --force to write the run into it"
        )


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftovers cannot be in progress: we are just starting
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True


def remove_stale_temp_files(run_dir: Path) -> list[Path]:
    """Delete temp files of interrupted writes in a run folder and its checkpoints/; returns them.

    A temp file named after a live process is left alone (that process may be writing it).
    """
    removed = []
    for folder in (Path(run_dir), Path(run_dir) / "checkpoints"):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            match = _TEMP_PID.match(path.name)
            stale = path.name in _TEMP_PLAIN or (match is not None and not _pid_alive(int(match.group(1))))
            if stale and path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def params_randomization_overlap(robot_name: str, params: Any, randomize: Any) -> str | None:
    """A warning naming the parameters both ``params`` sets and ``randomize`` samples, else None."""
    if params is None or randomize is None:
        return None
    from sim.randomization import load_randomization
    from sim.robot import load_robot

    robot = load_robot(robot_name)
    dr = load_randomization(robot, randomize)
    if dr is None:
        return None
    fixed = _params_names(robot, params)
    scaled = [r.name for r in dr.parameters if r.name in fixed and r.distribution == "scale_uniform"]
    replaced = [r.name for r in dr.parameters if r.name in fixed and r.distribution != "scale_uniform"]
    if not scaled and not replaced:
        return None
    parts = []
    if replaced:
        parts.append(f"{', '.join(replaced)} (the range replaces the --params value)")
    if scaled:
        parts.append(f"{', '.join(scaled)} (the --params value is scaled by the range)")
    return (
        f"warning: --params {params} sets parameters that --randomize {randomize} also samples at every "
        f"episode: {'; '.join(parts)}. Pass --randomize none to keep the --params values fixed"
    )


def _params_names(robot: Any, params: Any) -> set[str]:
    """Names a params file (or mapping) sets; resolve_params validates it first, naming a bad field."""
    from sim.params import load_yaml_mapping, resolve_params

    resolve_params(robot, params)
    return set(params) if isinstance(params, dict) else set(load_yaml_mapping(params, "params"))


def check_run_numbers(config: Any, source: str) -> None:
    """steps >= 1; eval_episodes >= 1; eval_every, checkpoint_every >= 0; 0 <= seed <= MAX_SEED; integers."""
    from robot_rl.training.setting_ranges import MAX_SEED

    rules = (
        ("steps", 1, None, "--steps"),
        ("eval_episodes", 1, None, "--eval-episodes"),
        ("eval_every", 0, None, "--eval-every"),
        ("checkpoint_every", 0, None, "--checkpoint-every"),
        ("seed", 0, MAX_SEED, "--seed"),
    )
    for name, minimum, maximum, flag in rules:
        value = getattr(config, name)
        ok = (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            and float(value).is_integer()
            and value >= minimum
            and (maximum is None or value <= maximum)
        )
        if not ok:
            most = f" and <= {maximum}" if maximum is not None else ""
            raise RobotRLError(
                f"{source}: '{name}' is {value!r}; expected an integer >= {minimum}{most} ({flag} N)"
            )
        setattr(config, name, int(value))
