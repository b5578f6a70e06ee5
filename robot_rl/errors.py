"""Errors a user can act on. The CLI prints their message without a traceback."""

from sim.errors import ConfigError, SimError

__all__ = [
    "USER_ERRORS",
    "RobotRLError",
    "ConfigError",
    "SimError",
    "CheckpointError",
    "PolicyContractError",
    "SafetyError",
]


class RobotRLError(Exception):
    """Base for errors whose message tells the user what is wrong and what to do."""


class CheckpointError(RobotRLError):
    """A checkpoint is missing, corrupt, or belongs to a different model or run."""


class PolicyContractError(RobotRLError):
    """A policy's model card does not match the robot or runtime it is asked to drive."""


class SafetyError(RobotRLError):
    """A safety-filter configuration is invalid (the filter itself never raises while running)."""


# Errors a user can fix: the CLI prints these as one line, without a traceback.
USER_ERRORS: tuple[type[Exception], ...] = (RobotRLError, SimError)
