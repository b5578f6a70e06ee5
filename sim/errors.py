"""Errors raised by the simulator layer. Messages name the file, field and what is expected."""

from __future__ import annotations


class SimError(Exception):
    """Base class for simulator errors a user can fix."""


class ConfigError(SimError, ValueError):
    """A robot.yaml, params or randomization file is malformed.

    The message always names the file, the field, what was found and what is expected.
    """

    def __init__(self, source: str, field: str, problem: str):
        self.source = str(source)
        self.field = field
        self.problem = problem
        where = f"{self.source}: field '{field}'" if field else self.source
        super().__init__(f"{where}: {problem}")


class UnknownParameterError(ConfigError):
    """A parameter name is not in the robot's vocabulary."""
