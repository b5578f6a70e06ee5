"""What a system identification returns: `SysidResult`, the fitted values and the evidence for them.

Why its own module: `calibration.identification` produces it and hands it to `calibration.report`,
which renders it; as a class of identification.py the report had to import the module that imports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class SysidResult:
    """Fitted values with 95% intervals, residuals, notes, and the paths of the files written."""

    robot: str
    engine: str
    fit_names: list[str]
    nominal: dict[str, float]  # robot.yaml value of each fitted name
    start: dict[str, float]  # where the fit started (robot.yaml, or --params)
    fitted: dict[str, float]
    half_widths: dict[str, float]  # 95% Student-t half-widths (inf: not identifiable from this log)
    intervals: dict[str, tuple[float, float]]
    identified: dict[str, bool]
    dr_ranges: dict[str, tuple[float, float]]
    values: dict[str, float]  # the whole vocabulary after the fit
    joint_names: list[str]
    residuals_before: dict[str, dict[str, float]]  # joint -> {position, velocity} RMS
    residuals_after: dict[str, dict[str, float]]
    correlations: list[tuple[str, str, float]]
    log_source: str
    log_duration: float
    n_segments: int
    iterations: int
    wall_s: float
    notes: list[str] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)
    adequate: bool = True  # the model explains held-out data down to the noise, every parameter identified
    converged: bool = True  # no parameter on a bound, solver within its iteration limit, residual improved
    reasons: list[str] = field(default_factory=list)  # why not adequate / not converged
    suggestions: list[dict] = field(default_factory=list)  # score test: [{name, predicted_reduction}]
    noise_floor: dict[str, dict[str, float]] = field(default_factory=dict)  # joint -> {position, velocity}
    residuals_validation: dict[str, dict[str, float]] = field(default_factory=dict)  # held-out RMS per joint
    validation_s: float = 0.0  # seconds of log held out of the fit

    def to_json(self) -> dict:
        """Plain JSON (infinite half-widths become null)."""
        def clean(x):
            if isinstance(x, float) and not np.isfinite(x):
                return None
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, (list, tuple)):
                return [clean(v) for v in x]
            if isinstance(x, Path):
                return str(x)
            return x

        data = asdict(self)
        data["paths"] = {k: str(v) for k, v in self.paths.items()}
        head = {k: data.pop(k) for k in ("adequate", "converged", "reasons", "suggestions")}
        return clean({**head, **data})  # the verdict first: what a person or a script reads first


__all__ = ["SysidResult"]
