"""`robot-rl sim-robot` for a legged robot, plus what its operator measures from outside the robot.

A walking robot's success in the task is one bit; a person deploying it asks more: did it fall,
and how closely did it follow the velocity command? A real lab reads both from a motion-capture
system, not from the robot's own interface (a JointState and an Imu carry no ground-truth
velocity), so neither is something the policy node could report. This runs the same sim robot
node (`robot_rl.deploy.sim_robot_node.SimRobot`, same arguments as `robot-rl sim-robot`) with the
simulator as that external observer: per episode its length, whether it ended in a fall (the task's
termination) and the mean planar velocity tracking error (m/s) over the window the task's success
judges (after its first second), in the base frame, as the task measures it.

  python -m robot_rl.demo.legged_sim_robot --robot a1 --engine pybullet --params gap.yaml \\
      --transport dds --lockstep --episodes 3 --json

prints `robot-rl sim-robot --json`'s summary plus `falls`, `mean_tracking_error` and per-episode
`episode_metrics`. `robot-rl demo --robot R` runs it as a legged robot R.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
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


def measure(robot) -> Callable[[list], dict[str, Any]]:
    """`robot-rl sim-robot`'s instrument hook: wrap a legged robot's env in `EpisodeMetrics`; the
    returned function gives the summary's falls, mean tracking error and per-episode metrics."""
    if not robot.legged:
        raise SystemExit(f"python -m robot_rl.demo.legged_sim_robot: robot '{robot.robot.name}' is not legged; "
                         "use `robot-rl sim-robot`")
    settle = int(getattr(robot.core.core.logic, "success_after", round(robot.robot.control_hz)))
    robot.env = metrics = EpisodeMetrics(robot.env, settle)
    return lambda results: summarize_metrics(metrics.episodes[: len(results)])


def main(argv: list[str] | None = None) -> int:
    from robot_rl.commands import sim_robot as cli

    parser = argparse.ArgumentParser(prog="python -m robot_rl.demo.legged_sim_robot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(argv), instrument=measure)


if __name__ == "__main__":
    sys.exit(main())
