"""Compute time per control period, kept by every model-based controller and reported against the period.

Why: a controller that needs longer than its period to decide is late on a robot however good its
plan; p99 (not the mean) is what says whether it keeps up.
"""

from __future__ import annotations

import numpy as np

__all__ = ["timing_summary"]


def timing_summary(timings: list[float], control_dt: float) -> dict[str, float]:
    """Compute time per period in ms (p50, p99, max), the periods counted, and the control period in ms."""
    t = np.asarray(timings, dtype=float) * 1e3 if timings else np.array([np.nan])
    return {"compute_p50_ms": float(np.percentile(t, 50)), "compute_p99_ms": float(np.percentile(t, 99)),
            "compute_max_ms": float(np.max(t)), "periods": len(timings), "control_period_ms": 1e3 * control_dt}
