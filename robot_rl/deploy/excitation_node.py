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
                    duration: float, recorder: BagRecorder | None = None, **clock: Any) -> ControlNode:
    """A control node playing `schedule` (``command(t, q, qd)``, e.g. `calibration.excitation.Excitation`)
    for `duration` seconds from the first valid state. `config.activate` is set: the run starts by
    itself (once the e-stop is known to be released, on a robot). Against a simulator, set
    `config.follow_episodes` (``--sim``): sim time, and a simulator's reset ramps in again instead of
    faulting; on a robot the node's own clock rules, as for a policy. ``clock``: see `ControlNode`."""
    from dataclasses import replace

    config = replace(config, activate=True)
    source = ExcitationSource(robot, schedule, duration)
    return ControlNode(transport, config, lambda: Controller(source, safety_options=config.safety_options()),
                       recorder, kind="excitation", **clock)


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
    if node.state == "finalized":
        return f"stopped before the end of the excitation ({ctl.fault_reason})"
    if kind == "watchdog" and str(ctl.fault_reason).startswith("state is"):
        return f"{ctl.fault_reason}: joint states stopped arriving on {node.config.state_topic}"
    return str(ctl.fault_reason)
