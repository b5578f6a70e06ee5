"""Errors of the calibration layer that a user can fix.

They subclass `sim.errors.SimError`, so the `robot-rl` CLI prints them as one line without a
traceback, while `calibration` stays importable without `robot_rl` (a lab machine that only
identifies parameters from logs needs no training stack).
"""

from __future__ import annotations

from sim.errors import SimError


class CalibrationError(SimError):
    """Base for calibration errors: the message names the file, topic, joint or parameter at fault."""


class LogError(CalibrationError):
    """A robot log cannot be used as it is: missing joint or topic, bad timestamps, gaps, ragged rows.

    The message names the file, the topic or column, the sample at fault, and what to do.
    """

    def __init__(self, source: str, problem: str, fix: str = ""):
        self.source = str(source)
        self.problem = problem
        self.fix = fix
        text = f"{self.source}: {problem}"
        if fix:
            text += f"; {fix}"
        super().__init__(text)


class FitError(CalibrationError):
    """Identification cannot run as asked: unknown or unfittable parameter names, bad bounds, no data."""


class OutputError(CalibrationError):
    """An output path would overwrite earlier results (a calibration, a log) without --force, or is unusable."""
