"""`robot-rl sim-robot` for a legged robot, plus what its operator measures from outside the robot.

A walking robot's success in the task is one bit; a person deploying it asks more: did it fall,
and how closely did it follow the velocity command? A real lab reads both from a motion-capture
system, not from the robot's own interface (a JointState and an Imu carry no ground-truth
velocity), so neither is something the policy node could report. This runs the same sim robot
node (`robot_rl.deploy.sim_robot_node.SimRobot`, same arguments as `robot-rl sim-robot`) with the
simulator as that external observer: per episode its length, whether it ended in a fall (the task's
termination) and the mean planar velocity tracking error (m/s) over the window the task's success
judges (after its first second), in the base frame, as the task measures it.

  python -m robot_rl.legged_sim_robot --robot a1 --engine pybullet --params gap.yaml \\
      --transport dds --lockstep --episodes 3 --json

prints `robot-rl sim-robot --json`'s summary plus `falls`, `mean_tracking_error` and per-episode
`episode_metrics`. `robot-rl demo --robot a1` runs it as its robot.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from dataclasses import fields
from typing import Any

import gymnasium
import numpy as np


class EpisodeMetrics(gymnasium.Wrapper):
    """Records each finished episode's length, fall and mean planar velocity tracking error.

    Reads the engine's truth (`RobotTaskEnv.state()`, `.command`) after every step: the tracking
    error is |command_xy - v_xy| with v the base's linear velocity in its own frame, averaged over
    the steps after `settle_steps`, as the legged task's success criterion averages it.
    """

    def __init__(self, env: gymnasium.Env, settle_steps: int):
        super().__init__(env)
        self.settle_steps = settle_steps
        self.episodes: list[dict[str, Any]] = []
        self._steps = 0
        self._errors: list[float] = []

    def reset(self, **kwargs):
        self._steps, self._errors = 0, []
        return self.env.reset(**kwargs)

    def step(self, action):
        from sim.state import quat_rotate_inverse

        obs, reward, terminated, truncated, info = self.env.step(action)
        self._steps += 1
        core = self.env.unwrapped
        if self._steps > self.settle_steps:
            base = core.state().base
            v = quat_rotate_inverse(base.orientation, base.linear_velocity)
            self._errors.append(float(np.linalg.norm(core.command[:2] - v[:2])))
        if terminated or truncated:
            self.episodes.append({
                "length": self._steps,
                "fell": bool(terminated),  # the legged task terminates only on a fall
                "tracking_error": float(np.mean(self._errors)) if self._errors else None,
                "success": bool(info.get("success", False)),
            })
        return obs, reward, terminated, truncated, info


def summarize_metrics(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Falls and mean tracking error over the finished episodes (None where no episode measured one)."""
    errors = [e["tracking_error"] for e in episodes if e["tracking_error"] is not None]
    return {
        "falls": sum(e["fell"] for e in episodes),
        "mean_tracking_error": float(np.mean(errors)) if errors else None,
        "episode_metrics": episodes,
    }


def main(argv: list[str] | None = None) -> int:
    from robot_rl.commands import sim_robot as cli
    from robot_rl.deploy.sim_robot_node import SimRobot, SimRobotConfig, summarize
    from robot_rl.deploy.transport import make_transport

    parser = argparse.ArgumentParser(prog="python -m robot_rl.legged_sim_robot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    # The sim-robot command's own flags, by name: every config field it has a flag for.
    given = {f.name: getattr(args, f.name) for f in fields(SimRobotConfig) if hasattr(args, f.name)}
    config = SimRobotConfig(**given, wait_for_controller=not args.no_wait)
    transport = make_transport(args.transport, args.node_name)
    robot, metrics = None, None
    try:
        robot = SimRobot(transport, config)
        if not robot.legged:
            raise SystemExit(f"{parser.prog}: robot '{robot.robot.name}' is not legged; use `robot-rl sim-robot`")
        settle = int(getattr(robot.core.core.logic, "success_after", round(robot.robot.control_hz)))
        robot.env = metrics = EpisodeMetrics(robot.env, settle)
        signal.signal(signal.SIGTERM, lambda *_: robot.stop())
        transport.spin_in_background()
        results = robot.run()
    except KeyboardInterrupt:
        results = []
    finally:
        if robot is not None:
            robot.close()
        transport.close()
    if args.json:
        summary = summarize(results, config, robot.task if robot else None)
        summary.update(summarize_metrics(metrics.episodes[: len(results)] if metrics else []))
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
