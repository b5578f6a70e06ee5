"""Checkpoint files: torch state dicts only, written atomically, read with ``weights_only=True``.

A checkpoint is a dict of tensors and plain Python values (no pickled classes), so
``torch.load(path, weights_only=True)`` opens it and a file a user is handed cannot run code.
Writing goes to a temporary file in the same folder, fsync'd, then ``os.replace``d over the
target: a crash or a full disk mid-write never leaves a half-written checkpoint under a good name.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch

from robot_rl.errors import CheckpointError

FORMAT = "robot_rl.checkpoint"
VERSION = 1


def first_non_finite(obj: Any, prefix: str = "") -> str | None:
    """Dotted name of the first NaN/inf value (tensor or float) inside a nested state, else None."""
    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point() and obj.numel() and not bool(torch.isfinite(obj).all()):
            return prefix or "<tensor>"
        return None
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (prefix or "<float>")
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, list | tuple):
        items = enumerate(obj)
    else:
        return None
    for key, value in items:
        found = first_non_finite(value, f"{prefix}.{key}" if prefix else str(key))
        if found is not None:
            return found
    return None


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` atomically; refuse (CheckpointError) if it holds NaN or inf.

    Refusing keeps the previous good file in place: a diverged run must never replace the last
    checkpoint it could be resumed from.
    """
    bad = first_non_finite(payload)
    if bad is not None:
        raise CheckpointError(f"refusing to write {path}: '{bad}' is NaN or inf; the previous checkpoint is kept")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, "version": VERSION, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_checkpoint(path: Path, expected_algo: str | None = None) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``; every failure is a CheckpointError saying why
    (a missing, corrupt or foreign file, another algorithm, or a NaN/inf anywhere in its state)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated zips, pickles, foreign objects
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: cannot be read as a robot-rl checkpoint ({first_line}). The file is corrupt or not "
            "a state-dict file; use another file from the run's checkpoints/ folder"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a robot-rl checkpoint (no '{FORMAT}' format marker); it was not written by `robot-rl train`"
        )
    if payload.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {payload.get('version')} is not supported (expected {VERSION})"
        )
    if expected_algo is not None and payload.get("algo") != expected_algo:
        raise CheckpointError(f"{path}: holds a '{payload.get('algo')}' checkpoint but this run uses '{expected_algo}'")
    for key in ("algo", "state", "model_meta", "global_step"):
        if key not in payload:
            raise CheckpointError(f"{path}: checkpoint lacks the '{key}' entry; it is incomplete")
    bad = first_non_finite(payload["state"])
    if bad is not None:
        # save_checkpoint never writes one: the file was edited or damaged. Resuming would train (and
        # evaluating or exporting would act) on NaN; say which value, and which files are still good.
        raise CheckpointError(
            f"{path}: '{bad}' holds NaN or inf, so this checkpoint cannot be resumed, evaluated or exported "
            f"(nothing was changed); use an earlier one in {path.parent} (step_*.pt: to resume from one, copy it "
            "over last.pt)"
        )
    return payload
