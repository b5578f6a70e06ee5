"""Training metrics to TensorBoard and to a CSV file (one row per logging step).

The CSV is what scripts and spreadsheets read; its header grows when a metric first appears
(e.g. the first evaluation), in which case the file is rewritten once with the wider header.
On resume, rows past the checkpoint's step are dropped and TensorBoard purges its events past
that step, so a resumed run's curves continue without a duplicated tail.

The file is never rewritten in place: a new row is appended, and a rewrite (wider header,
resume) goes to a temp file that replaces metrics.csv atomically, so a crash mid-write leaves the
previous complete file, never a truncated one.

On resume the file is read strictly (`read_metrics`): a last row cut off by a kill mid-append (no
final newline, missing or unreadable fields) is dropped with a warning; anything else that is not a
metrics row (a damaged or foreign file) is a MetricsFileError naming the line, raised before the run
changes any file.
"""

from __future__ import annotations

import csv
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from robot_rl.errors import RobotRLError

METRICS_FILE = "metrics.csv"


class MetricsFileError(RobotRLError):
    """A run's metrics.csv cannot be continued: it is damaged or was not written by the trainer."""


@dataclass
class MetricsHistory:
    """A metrics.csv as read for a resume: its header, the rows up to the resume step, and what was dropped."""

    header: list[str] = field(default_factory=lambda: ["step"])
    rows: list[dict[str, float]] = field(default_factory=list)
    dropped: str | None = None  # why the last row was dropped (a torn write), or None


def _row(fields: list[str], header: list[str]) -> dict[str, float] | None:
    """One CSV row as numbers (empty cells left out), or None if it is not a complete metrics row."""
    if len(fields) != len(header):
        return None
    try:
        row = {k: float(v) for k, v in zip(header, fields, strict=True) if v != ""}
    except ValueError:
        return None
    step = row.get("step")
    return row if step is not None and math.isfinite(step) else None


def read_metrics(path: Path, resume_step: int | None = None) -> MetricsHistory:
    """Read a metrics.csv for a resume: rows with step <= ``resume_step`` (all if None); see the module doc."""
    path = Path(path)
    if not path.exists():
        return MetricsHistory()
    fix = (f"move it aside (mv {path} {path}.bad) and resume again: a new {path.name} starts at the checkpoint's "
           "step (the checkpoints are not affected)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise MetricsFileError(f"{path}: not a text file (byte {exc.start} is not UTF-8); {fix}") from None
    if "\x00" in text:
        raise MetricsFileError(f"{path}: holds NUL bytes, not CSV text; {fix}")
    lines = text.splitlines(keepends=True)
    if not lines:
        return MetricsHistory()
    header = next(csv.reader([lines[0]]), [])
    if not header or header[0] != "step" or "" in header or len(set(header)) != len(header):
        shown = lines[0].strip()[:60]
        raise MetricsFileError(f"{path}: line 1 is not a metrics header (expected 'step,...', found {shown!r}); {fix}")
    history = MetricsHistory(header=list(header))
    for number, line in enumerate(lines[1:], start=2):
        fields = next(csv.reader([line]), [])
        if not fields:
            continue  # a blank line
        complete = line.endswith("\n")  # every row is written whole, newline last
        row = _row(fields, header) if complete else None
        if row is None:
            if number == len(lines):  # a write cut off by a kill mid-append: the rows before it are whole
                how = f"{len(fields)} of {len(header)} fields" + ("" if complete else ", no final newline")
                history.dropped = f"{path}: dropped its last row, cut off mid-write ({line.strip()[:60]!r}: {how})"
                break
            raise MetricsFileError(f"{path}: line {number} is not a row of {len(header)} numbers "
                                   f"({line.strip()[:60]!r}); {fix}")
        if resume_step is None or row["step"] <= resume_step:
            history.rows.append(row)
    return history


class MetricsLogger:
    def __init__(self, run_dir: Path, resume_step: int | None = None, tensorboard: bool = True):
        self.csv_path = Path(run_dir) / METRICS_FILE
        self.header: list[str] = ["step"]
        self.rows: list[dict[str, float]] = []
        if resume_step is not None:
            history = read_metrics(self.csv_path, resume_step)
            self.header, self.rows = history.header, history.rows
            if history.dropped:
                print(f"warning: {history.dropped}", file=sys.stderr, flush=True)
        self._rewrite()
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=resume_step)

    def _rewrite(self) -> None:
        """Write header and rows to a temp file, then rename it over metrics.csv (atomic)."""
        tmp = self.csv_path.with_name(f".{self.csv_path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=self.header)
                writer.writeheader()
                for row in self.rows:
                    writer.writerow(self._format(row))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.csv_path)
        finally:
            tmp.unlink(missing_ok=True)

    def _format(self, row: dict[str, float]) -> dict[str, str]:
        return {k: (str(int(v)) if k == "step" else repr(float(v))) for k, v in row.items()}

    def log(self, step: int, metrics: dict[str, float], csv_row: bool = True) -> None:
        """Log one step's metrics; ``csv_row=False`` sends them to TensorBoard only (e.g. a final
        evaluation at a step that already has its CSV row)."""
        row = {"step": float(step)}
        row.update({k: float(v) for k, v in metrics.items() if v is not None and not isinstance(v, str)})
        if self.tb is not None:
            for key, value in row.items():
                if key != "step" and math.isfinite(value):
                    self.tb.add_scalar(key, value, step)
        if not csv_row:
            return
        self.rows.append(row)
        new_keys = [k for k in row if k not in self.header]
        if new_keys:
            self.header += new_keys
            self._rewrite()
        else:
            with open(self.csv_path, "a", newline="", encoding="utf-8") as f:
                csv.DictWriter(f, fieldnames=self.header).writerow(self._format(row))

    def close(self) -> None:
        if self.tb is not None:
            self.tb.flush()
            self.tb.close()
