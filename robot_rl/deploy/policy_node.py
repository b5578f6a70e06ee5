"""The policy node: the control node (`robot_rl.deploy.control_node`) with an exported policy as
its command source.

Everything a node does -- subscriptions, lifecycle, watchdogs, second-publisher check, the
SafetyFilter, diagnostics, recording -- is `ControlNode`'s, shared with the excitation that
`robot-rl excite --publish` plays; this module only says how a policy source is built from
`PolicyNodeConfig` (the policy folder checked against the robot, the filter's options from the
config), for `robot-rl deploy`, the ROS package's policy node and the latency benchmark.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from robot_rl.deploy.control_config import PolicyNodeConfig
from robot_rl.deploy.control_node import ControlNode
from robot_rl.deploy.recorder import BagRecorder
from robot_rl.deploy.transport import Transport
from robot_rl.runtime.controller import Controller

__all__ = ["PolicyNode", "PolicyNodeConfig", "policy_controller"]


def policy_controller(config: PolicyNodeConfig) -> Controller:
    """The policy behind its SafetyFilter, as configured: raises a user error for a policy whose
    contract does not fit the robot (the node then stays unconfigured; `robot-rl deploy` checks
    with this same function before it opens a transport)."""
    from sim.robot import load_robot

    return Controller(
        Path(config.policy),
        load_robot(config.robot),
        allow_wider_limits=config.allow_wider_limits,
        safety_options=config.safety_options(),
    )


class PolicyNode(ControlNode):
    """A `ControlNode` running the policy of `config.policy` (``clock``/``sleep``: see `ControlNode`)."""

    def __init__(self, transport: Transport, config: PolicyNodeConfig, recorder: BagRecorder | None = None,
                 **clock: Any):
        super().__init__(transport, config, lambda: policy_controller(config), recorder, kind="policy", **clock)
