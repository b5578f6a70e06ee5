"""Training metrics to TensorBoard and to a CSV file (one row per logging step).

The CSV is what scripts and spreadsheets read; its header grows when a metric first appears
(e.g. the first evaluation), in which case the file is rewritten once with the wider header.
On resume, rows past the checkpoint's step are dropped and TensorBoard purges its events past
that step, so a resumed run's curves continue without a duplicated tail.

The file is never rewritten in place: a new row is appended, and a rewrite (wider header,
resume) goes to a temp file that replaces metrics.csv atomically, so a crash mid-write leaves the
previous complete file, never a truncated one.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path


class MetricsLogger:
    def __init__(self, run_dir: Path, resume_step: int | None = None, tensorboard: bool = True):
        self.csv_path = Path(run_dir) / "metrics.csv"
        self.header: list[str] = ["step"]
        self.rows: list[dict[str, float]] = []
        if resume_step is not None and self.csv_path.exists():
            with open(self.csv_path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                self.header = list(reader.fieldnames or ["step"])
                self.rows = [
                    {k: float(v) for k, v in row.items() if v not in ("", None)}
                    for row in reader
                    if float(row["step"]) <= resume_step
                ]
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
