"""The deploy runtime: run an exported policy on a robot behind a safety filter.

Imports numpy, onnxruntime, pyyaml and the numpy-only parts of `sim` (robot descriptions and the
observation function); never torch, MuJoCo or PyBullet (a test checks it), so a deploy machine
needs none of them.

* :class:`PolicyRunner` — a policy folder (policy.onnx + policy.json), checked against the robot,
  turning measured joint states into physical commands.
* :class:`SafetyFilter` — limits, rate limits, watchdog, e-stop and latched faults; the only thing
  allowed to write a command to a robot. :class:`SafetyConfig` holds its knobs.
* :class:`Controller` — a command source behind the filter, one ``step`` per control period (what
  the control node calls). Sources (:mod:`robot_rl.runtime.command_source`): :class:`PolicySource`
  (a policy folder) and :class:`ExcitationSource` (an identification schedule).
* :class:`OnnxPolicy` / :func:`load_policy_folder` — just the checked ONNX actor, obs -> action
  in [-1, 1], for evaluation.
"""

from robot_rl.runtime.command_source import CommandSource, ExcitationSource, PolicySource
from robot_rl.runtime.controller import Controller
from robot_rl.runtime.onnx_policy import OnnxPolicy, load_policy_folder
from robot_rl.runtime.runner import PolicyRunner
from robot_rl.runtime.safety import SafeCommand, SafetyConfig, SafetyFilter, SafetyState

__all__ = [
    "CommandSource",
    "Controller",
    "ExcitationSource",
    "OnnxPolicy",
    "PolicyRunner",
    "PolicySource",
    "SafeCommand",
    "SafetyConfig",
    "SafetyFilter",
    "SafetyState",
    "load_policy_folder",
]
