"""The whole sim-to-real loop on embedded defaults, for any robot of a kind the demo knows:
what `robot-rl demo --robot R` (and `make demo`) runs.

One loop per kind of robot, the robot's facts from its folder (robot_rl.demo.facts):
* a fixed-base robot, a cart-pole or an arm (robot_rl.demo.fixed):
  1. train   PPO on the robot's task in MuJoCo under its default domain randomization
             (--quick: skip, use the robot's shipped policy under policies/)
  2. export  the actor to ONNX + model card (`robot-rl export`)
  3. deploy  the policy node (`robot-rl deploy`) drives a PyBullet sim robot (`robot-rl sim-robot`)
             whose physics differ from the nominal model (the "reality gap", written to
             robot_params.yaml), two processes over real DDS on an isolated loopback domain, while
             the node records joint states and commands to a rosbag2 folder
  4. sysid   an identification run on the same robot (`robot-rl excite --publish`: a multisine
             through the SafetyFilter, recorded to rosbag2), then identify the gap's parameters from
             that recording (`calibration.identify`, built on mujoco.sysid). Why not from the policy's
             own run: a balanced pole is open-loop unstable, so simulating a closed-loop recording
             open-loop diverges within a second and the fit learns nothing reliable, and a reach
             that settles quickly excites little; a multisine is stable and informative, which is
             how a lab calibrates too.
  5. compare the policy's return in the training simulator, on the "robot", and in the calibrated
             simulator; the identified parameters against the sim robot's true ones
  6. retrain (kinds with fine-tuning: the arm) fine-tune the policy on the calibrated simulator (the
             fitted values as nominal, DR narrowed to the fit's intervals), export it, deploy it to the
             robot again, and compare success and final position error before and after
* a legged robot (robot_rl.demo.legged): the shipped policy deployed, the motors identified with the
  robot hung on a gantry, the deployment compared in the training and the calibrated simulator.

Everything lands in one output folder with plots (training curve, deployment trajectory, the sysid
overlay report), a replay video of the identification run beside the nominal and the calibrated
simulator (calib/replay.mp4, shown in calib/report.html; `video_seconds`, `robot-rl demo
--video-seconds`) and a summary.json.

The sim robots read their joints as real ones do (encoder counts and noise,
robot_rl.deploy.sensor_model), so the identification's errors and intervals are those of noisy data;
`ideal_sensors` (`robot-rl demo --ideal-sensors`) gives them the engine's exact values instead.

Modules: config (DemoConfig, constants), kinds (the per-kind table), spec (DemoSpec), facts (a
robot's DemoSpec), steps (the shared steps), plots, fixed and legged (the loops), arm / pole / legged
(each kind's gap rule and figures), legged_sim_robot (the sim robot that also measures falls).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from robot_rl.demo.config import DEFAULT_VIDEO_SECONDS, DemoConfig

if TYPE_CHECKING:
    from robot_rl.demo.spec import DemoSpec

__all__ = ["DEFAULT_VIDEO_SECONDS", "DemoConfig", "run"]


def run(cfg: DemoConfig, console, spec: DemoSpec | None = None) -> dict[str, Any]:
    """The loop of `cfg.robot`'s kind; returns (and writes) the summary. `spec`: run this one instead of
    the robot's own (robot_rl.demo.facts.demo_spec), e.g. a shorter identification in a test."""
    from robot_rl.demo import fixed, legged
    from robot_rl.demo.facts import demo_spec

    spec = spec or demo_spec(cfg.robot)
    loop = {"fixed": fixed.run, "legged": legged.run}[spec.kind.loop]
    return loop(cfg, spec, console)
