"""Export a trained actor to a policy folder: `policy.onnx` + `policy.json` (the model card).

The folder is the whole contract between training and the robot (ARCHITECTURE.md, idea 5):

* `policy.onnx` — the deterministic actor. Input ``obs`` [batch, obs_size] float32 is the *raw*
  observation that ``sim.observations.task_interface(task).build`` makes; observation
  normalization is inside the graph. Output ``action`` [batch, act_size] float32 in [-1, 1].
* `policy.json` — robot and joint order, observation layout with units, what each action means
  and how it becomes a physical command (``command = offset + scale * clip(action, -1, 1)``),
  limits, control rate, how it was trained (command, seed, git commit), ONNX opset and SHA-256,
  a parity check against the torch actor, and evaluation results.

Export refuses to write a policy whose ONNX graph disagrees with the torch actor by more than
1e-5 on 1000 random observations. Needs torch (and onnx, onnxscript); the runtime does not.

ONNX opsets: `MIN_OPSET` up to the installed onnx package's newest (`opset_range`); the exporter
writes its own opset and converts to the one asked for. A conversion that fails is an error and
nothing is written (the exporter alone would log a traceback and quietly keep its own opset).

Temp files: `.policy.onnx.tmp-<pid>` and `.policy.json.tmp-<pid>`, renamed over the real names
when complete. The next export into the folder removes those of processes that are gone (a
SIGKILL mid-export), so they never pile up.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
import subprocess
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.errors import PolicyContractError
from robot_rl.runtime.card import (
    CARD_FILE,
    INPUT_NAME,
    ONNX_FILE,
    OUTPUT_NAME,
    SCHEMA,
    action_section,
    observation_section,
    onnx_opsets,
    robot_section,
    sha256_file,
)
from robot_rl.runtime.onnx_policy import OnnxPolicy
from sim.observations import task_interface
from sim.robot import RobotSpec
from sim.tasks.registry import ALL_TASKS, TaskRobotError, resolve_robot

__all__ = [
    "MIN_OPSET",
    "PARITY_SAMPLES",
    "PARITY_TOLERANCE",
    "check_opset",
    "export_actor",
    "git_commit",
    "is_export_temp",
    "opset_range",
    "parity_check",
    "remove_stale_export_temps",
]

PARITY_SAMPLES = 1000
PARITY_TOLERANCE = 1e-5
REPO_ROOT = Path(__file__).resolve().parents[1]
# What the card records from the run's metadata (robot_rl.train.load_policy's `meta`), by name.
TRAINING_KEYS = (
    "command",
    "algo",
    "env_id",
    "robot",  # the robot the run trained on, as given (a name or a robot.yaml path; None: the alias's own)
    "engine",
    "randomize",
    "params",
    "seed",
    "global_step",
    "git_commit",
    "run_dir",
    "checkpoint",
    "checkpoint_kind",  # best (the best periodic evaluation during training) or last (the final state)
    "checkpoint_eval_return",  # the periodic evaluation return that made it the best (best only)
)
NETWORK_KEYS = ("obs_dim", "act_dim", "hidden", "activation", "normalize_obs", "squash")
# Lowest opset the exporter converts our actors to (measured with torch 2.13 / onnxscript 0.7: at 14
# and below the conversion fails and the exporter keeps its own opset 18).
MIN_OPSET = 15
_TEMP_PID = re.compile(r"^\.policy\.(onnx|json)\.tmp-(\d+)$")
# Before temp names carried a pid, mkstemp's: ".policy.<random>.onnx", ".policy.json.<random>".
_TEMP_LEGACY = re.compile(r"^\.policy\.([A-Za-z0-9_]+\.onnx|json\.[A-Za-z0-9_]+)$")
LEGACY_TEMP_AGE_S = 3600.0  # an export writes its temp files for seconds; one an hour old is abandoned


def git_commit(repo: Path = REPO_ROOT) -> str | None:
    """The checked-out commit (with '-dirty' if the tree has changes), or None outside a git repo."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _normalization(actor: Any) -> dict[str, Any]:
    """Describe the observation normalization baked into the graph (values copied for the record)."""
    norm = getattr(actor, "normalizer", None)
    mean, var = getattr(norm, "mean", None), getattr(norm, "var", None)
    if mean is None or var is None:
        return {"inside_graph": True, "formula": "none found on the actor: the graph takes the raw observation"}
    eps, clip = float(getattr(norm, "eps", 0.0)), getattr(norm, "clip", None)
    return {
        "inside_graph": True,
        "formula": "clip((obs - mean) / sqrt(var + eps), -clip, clip); feed the raw observation, not this",
        "mean": [float(v) for v in mean.detach().cpu().numpy()],
        "var": [float(v) for v in var.detach().cpu().numpy()],
        "eps": eps,
        "clip": None if clip is None else float(clip),
    }


def parity_check(
    actor: Any, policy: OnnxPolicy, obs_size: int, samples: int = PARITY_SAMPLES, seed: int = 0
) -> dict[str, Any]:
    """Max |torch - onnxruntime| over `samples` random observations, batched and one at a time.

    Observations are N(0, 3^2): wide enough to drive the normalizer into its clip and the output
    into its squashing, so every part of the graph is exercised.
    """
    import torch

    obs = (3.0 * np.random.default_rng(seed).standard_normal((samples, obs_size))).astype(np.float32)
    with torch.no_grad():
        expected = actor(torch.from_numpy(obs)).cpu().numpy().astype(np.float32)
    batched = policy(obs)
    single = np.stack([policy.act1(o).copy() for o in obs])
    diff_batched = np.abs(batched - expected).max(axis=1)
    diff_single = np.abs(single - expected).max(axis=1)
    worst = int(np.argmax(np.maximum(diff_batched, diff_single)))
    return {
        "samples": samples,
        "seed": seed,
        "tolerance": PARITY_TOLERANCE,
        "max_abs_diff_batched": float(diff_batched.max()),
        "max_abs_diff_single": float(diff_single.max()),
        "worst_index": worst,
        "passed": bool(max(diff_batched.max(), diff_single.max()) <= PARITY_TOLERANCE),
    }


def _export_onnx(actor: Any, obs_size: int, path: Path, opset: int | None) -> None:
    import torch

    example = torch.zeros(2, obs_size)  # batch 2: a batch of 1 would let torch.export specialize the batch axis
    kwargs: dict[str, Any] = {
        "input_names": [INPUT_NAME],
        "output_names": [OUTPUT_NAME],
        "dynamic_shapes": ({0: "batch"},),
        "dynamo": True,
        "external_data": False,
        "verbose": False,
    }
    if opset is not None:
        kwargs["opset_version"] = opset
    # The dynamo exporter logs optional-dependency notes (torchvision) and deprecation warnings from
    # torch internals that say nothing about this export; keep the user's console for real problems.
    # onnxscript logs a failed opset conversion as a warning with a traceback and goes on with its own
    # opset; the caller checks the file's opset and says so in one line.
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR + 1)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(actor, (example,), str(path), **kwargs)
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _jsonable(value: Any) -> Any:
    """Run metadata as JSON: numbers, strings, lists and dicts pass; anything else becomes its str()."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _publish(tmp: str | Path, path: Path) -> None:
    """Move a finished temp file into place, readable by all (mkstemp creates files private to us)."""
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def _temp_path(path: Path) -> Path:
    """The temp name a write of `path` uses: hidden, with our pid, so a later export knows if it is stale."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _write_atomic(path: Path, text: str) -> None:
    tmp = _temp_path(path)
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        _publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def is_export_temp(name: str) -> bool:
    """Whether a file name is one of export's temp files (live or abandoned)."""
    return bool(_TEMP_PID.match(name) or _TEMP_LEGACY.match(name))


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # ours: in use by this very export
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


def remove_stale_export_temps(folder: str | Path) -> list[Path]:
    """Delete the temp files of exports that died in `folder` (named after a process that is gone, or of
    the old unnamed kind and over an hour old); returns them. A live export's temp files are kept."""
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    now = time.time()
    for path in folder.iterdir():
        match = _TEMP_PID.match(path.name)
        if match is not None:
            stale = not _pid_alive(int(match.group(2)))
        elif _TEMP_LEGACY.match(path.name):
            stale = now - path.stat().st_mtime > LEGACY_TEMP_AGE_S
        else:
            continue
        if stale and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def opset_range() -> tuple[int, int]:
    """(lowest, highest) ONNX opset export writes: MIN_OPSET to the installed onnx package's newest."""
    import onnx

    return MIN_OPSET, int(onnx.defs.onnx_opset_version())


def check_opset(opset: int | None) -> None:
    """Refuse an opset outside `opset_range` before anything is loaded or written (None: the exporter's)."""
    if opset is None:
        return
    low, high = opset_range()
    if not low <= opset <= high:
        raise PolicyContractError(
            f"--opset {opset} is not supported: choose {low}-{high} (or leave it out for the exporter's own); "
            f"{high} is the newest the installed onnx package knows"
        )


def export_actor(
    actor: Any,
    meta: Mapping[str, Any],
    out_dir: str | Path,
    *,
    name: str | None = None,
    robot: RobotSpec | str | Path | None = None,
    opset: int | None = None,
    evaluation: Mapping[str, Any] | None = None,
    evaluate_fn: Callable[[Path], Mapping[str, Any]] | None = None,
    export_command: str | None = None,
    parity_samples: int = PARITY_SAMPLES,
) -> dict[str, Any]:
    """Write `policy.onnx` and `policy.json` for `actor` into `out_dir`; returns the card.

    `actor`: a torch module mapping raw observations [B, obs_size] to actions [B, act_size] in [-1, 1]
    (normalization inside). `meta`: the run's metadata (`task` required; `engine`, `algo`, `seed`,
    `command`, `git_commit`, `run_dir`, ... recorded as given). `evaluation`: results to record as is;
    or `evaluate_fn(folder) -> results`, called with the finished policy folder (so the card reports
    what the ONNX file does, not the torch actor). Raises PolicyContractError if the actor does not
    fit the task or the ONNX graph fails the parity check (nothing is left in `out_dir` then).
    """
    import torch

    task = str(meta.get("task", "")).removeprefix("robot_rl/")
    if task not in ALL_TASKS:
        raise PolicyContractError(
            f"run metadata field 'task' is {meta.get('task')!r}; export needs one of our robot "
            f"tasks ({', '.join(ALL_TASKS)}), whose observation function the runtime shares"
        )
    try:  # the robot: as given, else the run's (a task by kind names it), else an alias's own
        robot_spec = resolve_robot(task, robot if robot is not None else meta.get("robot"))
    except TaskRobotError as exc:
        raise PolicyContractError(str(exc)) from None
    interface = task_interface(task, robot_spec)
    actor = actor.eval()
    with torch.no_grad():
        probe = actor(torch.zeros(1, interface.obs_size))
    if tuple(probe.shape) != (1, interface.action_size):
        raise PolicyContractError(
            f"actor maps 1 x {interface.obs_size} observations to shape {tuple(probe.shape)}; "
            f"task '{task}' on robot '{robot_spec.name}' needs (1, {interface.action_size})"
        )

    check_opset(opset)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_export_temps(out)
    onnx_path = out / ONNX_FILE
    tmp_onnx = _temp_path(onnx_path)
    try:
        _export_onnx(actor, interface.obs_size, tmp_onnx, opset)
        written = onnx_opsets(tmp_onnx.read_bytes()).get("")
        if opset is not None and written != opset:
            raise PolicyContractError(
                f"the exporter could not write ONNX opset {opset} for this actor (it wrote {written}); nothing was "
                f"written to {out}; leave --opset out, or choose {written} or another in {MIN_OPSET}-{opset_range()[1]}"
            )
        policy = OnnxPolicy(tmp_onnx)
        parity = parity_check(actor, policy, interface.obs_size, samples=parity_samples)
        if not parity["passed"]:
            raise PolicyContractError(
                f"ONNX export disagrees with the torch actor: max |difference| "
                f"{max(parity['max_abs_diff_batched'], parity['max_abs_diff_single']):.3g} > {PARITY_TOLERANCE:g} "
                f"(observation {parity['worst_index']} of {parity_samples}); nothing was written to {out}"
            )
        _publish(tmp_onnx, onnx_path)
    finally:
        tmp_onnx.unlink(missing_ok=True)

    opsets = onnx_opsets(onnx_path.read_bytes())
    run = _jsonable(dict(meta))
    if run.get("git_commit") is None and isinstance(run.get("config"), dict):
        run["git_commit"] = run["config"].get("git_commit")  # where a trainer may record it in config.yaml
    card = {
        "schema": SCHEMA,
        "name": name or out.resolve().name,
        "task": task,
        "robot": robot_section(robot_spec),
        "control": {
            "hz": robot_spec.control_hz,
            "dt": robot_spec.control_dt,
            "note": "one observation and one action per control period",
        },
        "observation": observation_section(interface, "inside the ONNX graph (see 'normalization')"),
        "normalization": _normalization(actor),
        "action": action_section(robot_spec, interface),
        "onnx": {
            "file": ONNX_FILE,
            "sha256": sha256_file(onnx_path),
            "opset": opsets.get(""),
            "input": {"name": INPUT_NAME, "shape": ["batch", interface.obs_size], "dtype": "float32"},
            "output": {
                "name": OUTPUT_NAME,
                "shape": ["batch", interface.action_size],
                "dtype": "float32",
                "range": [-1.0, 1.0],
            },
        },
        "parity": parity,
        "training": {
            **{key: run.get(key) for key in TRAINING_KEYS},
            "network": {key: run[key] for key in NETWORK_KEYS if key in run},
            "run_config": run.get("config"),
        },
        "evaluation": _jsonable(dict(evaluation)) if evaluation is not None else None,
        "export": {
            "command": export_command,
            "git_commit": git_commit(),
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "torch": torch.__version__,
            "onnxruntime": __import__("onnxruntime").__version__,
        },
    }
    resumes = [r.get("command") for r in ((run.get("config") or {}).get("resumes") or [])]  # a run extended
    card["reproduce"] = [c for c in (run.get("command"), *resumes, export_command) if c]
    write_card(out, card)
    if evaluation is None and evaluate_fn is not None:
        # The folder is complete and checkable now, so evaluation runs what a robot would load.
        card["evaluation"] = _jsonable(dict(evaluate_fn(out)))
        write_card(out, card)
    return card


def write_card(folder: str | Path, card: Mapping[str, Any]) -> None:
    """Write `policy.json` atomically (a reader never sees half a card)."""
    _write_atomic(Path(folder) / CARD_FILE, json.dumps(card, indent=2) + "\n")
