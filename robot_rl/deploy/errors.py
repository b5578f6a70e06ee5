"""Errors of the deploy stack that a user can act on; the CLI prints them as one line."""

from __future__ import annotations

from robot_rl.errors import RobotRLError


class DeployError(RobotRLError):
    """Base for deploy errors: the message names the topic, joint, file or node at fault."""


class TransportError(DeployError):
    """The middleware could not be opened or used (domain id, topic name, missing rclpy)."""


class BagError(DeployError):
    """A rosbag2 recording cannot be written or read (path exists, missing topic, unknown type)."""


class ActivationError(DeployError):
    """The policy node refuses to activate: wrong robot, no valid state yet, or a latched fault."""
