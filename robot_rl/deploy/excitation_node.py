"""The excitation node: the control node (`robot_rl.deploy.control_node`) with an identification
excitation as its command source, for `robot-rl excite --publish`.

The excitation is not a second control loop: it is an `ExcitationSource` behind the same
SafetyFilter, watchdogs, e-stop, second-publisher check and bag writer as a policy. This module
only builds that node (activating on the first valid state, following a simulator's episodes)
and says how a run ended.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from robot_rl.deploy.control_config import ControlNodeConfig
from robot_rl.deploy.control_node import ControlNode
from robot_rl.deploy.recorder import BagRecorder
from robot_rl.deploy.transport import Transport
from robot_rl.runtime.command_source import ExcitationSource
from robot_rl.runtime.controller import Controller
from sim.robot import RobotSpec

__all__ = ["excitation_node", "run_outcome"]

Schedule = Callable[[float, np.ndarray, np.ndarray], Any]


def excitation_node(transport: Transport, config: ControlNodeConfig, robot: RobotSpec, schedule: Schedule,
                    duration: float, recorder: BagRecorder | None = None) -> ControlNode:
    """A control node playing `schedule` (``command(t, q, qd)``, e.g. `calibration.excitation.Excitation`)
    for `duration` seconds from the first valid state. `config.activate` and `config.follow_episodes`
    are set: the run starts by itself, and a simulator's reset ramps in again instead of faulting."""
    from dataclasses import replace

    config = replace(config, activate=True, follow_episodes=True)
    source = ExcitationSource(robot, schedule, duration)
    return ControlNode(transport, config, lambda: Controller(source, safety_options=config.safety_options()),
                       recorder, kind="excitation")


def run_over(node: ControlNode) -> bool:
    """The run is over: the excitation finished, a fault latched, or the node could not start."""
    return node.finished or node.state in ("fault", "unconfigured")


def run_outcome(node: ControlNode) -> str | None:
    """Why the run stopped early (None when the excitation finished): the fault, in words an operator
    acts on; for a stopped state stream, the topic that went silent."""
    if node.config_error:
        return node.config_error
    ctl = node.controller
    if node.finished or ctl.state != "fault":
        return None if node.finished else "the excitation did not finish"
    kind = ctl.safety.fault_kind
    if kind == "estop":
        return "e-stop pressed"
    if kind == "watchdog":
        return f"{ctl.fault_reason}: joint states stopped arriving on {node.config.state_topic}"
    return str(ctl.fault_reason)
