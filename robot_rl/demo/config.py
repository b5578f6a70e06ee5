"""What one `robot-rl demo` run is asked to do (`DemoConfig`), and the constants every step shares.

Numpy-free and quick to import: `robot-rl demo --help` reads `DEFAULT_VIDEO_SECONDS` from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICIES_DIR = REPO_ROOT / "policies"  # the shipped policies, one folder each with its card (policy.json)
# Watchdog of the demo's policy node and excitation (s), both run with --sim. The sim robot is
# lockstep: it waits for each command, so a late state cannot leave it running unattended. The
# default 5 periods (0.1 s) faulted deployments whenever a loaded 2-core machine stalled a process
# that long, and 1 s (a robot's maximum) still did at load 8-10 (a latched fault for the rest of
# the run: tests/test_demo_iiwa.py failed once that way).
LOCKSTEP_WATCHDOG_S = 10.0
# The replay video's frame size: on software OpenGL (llvmpipe) `robot-rl demo`'s default 10 s at 30 fps
# (300 frames, two ghosts) cost 9-14 s on the cart-pole, 10 s on the A1, 16-23 s on the iiwa here (load 3-7).
VIDEO_SIZE = (480, 360)
DEFAULT_VIDEO_SECONDS = 10.0  # `robot-rl demo`'s; a DemoConfig films nothing unless asked (tests stay fast)
CHECKPOINT_FILE = "checkpoint.pt"  # a shipped policy's training checkpoint, to fine-tune from


@dataclass
class DemoConfig:
    """One run of the loop: where, how much, on which robot (`robot-rl demo`'s flags)."""

    out: Path
    # A shipped robot's name or a robot.yaml path (or its folder); None: the default robot
    # (robot_rl.demo.facts.default_robot: the one the alias table binds the pole kind's task to).
    robot: str | None = None
    quick: bool = False  # a trained policy (the shipped one, or --policy) instead of training
    seed: int = 0
    train_steps: int | None = None  # None: the kind's default
    # Wall-clock training budget (s); None: the kind's (an arm: 3 min) unless train_steps is given.
    train_time_budget_s: float | None = None
    robot_episodes: int | None = None  # per deployment; None: the kind's default
    eval_seed: int = 100  # episode i of every comparison is seeded eval_seed + i
    policy: Path | None = None  # use this policy folder instead of training / the shipped one
    progress: bool = True
    finetune_steps: int | None = None  # None: the kind's default (quick or full)
    # The sim robots read their joints through encoders and noise (robot_rl.deploy.sensor_model), as a
    # real robot does; True: the engine's exact values (`sim-robot --ideal-sensors`), e.g. to test exact recovery.
    ideal_sensors: bool = False
    # Seconds of the identification run to film beside the nominal and calibrated simulators
    # (calib/replay.mp4, embedded in calib/report.html); 0: no video.
    video_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
