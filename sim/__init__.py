"""robot-rl simulation: robot descriptions, engines, tasks and domain randomization.

`import sim` registers every task of the registry (sim/tasks/registry.py) as a Gymnasium env
`robot_rl/<Task>` (when gymnasium is installed), and imports nothing heavy: engines load on first
use, so the deploy runtime can import `sim.robot` and `sim.observations` without them.

Tasks by kind of robot take the robot, a shipped robot's name or a robot.yaml path, and have no
default (which robot a policy drives is the caller's choice; without one the error lists the shipped
robots of the task's kind):

    gymnasium.make("robot_rl/Reach-v0", robot="iiwa")         # any fixed-base arm
    gymnasium.make("robot_rl/Walk-v0", robot="path/to/robot.yaml")  # any legged robot
    gymnasium.make("robot_rl/PoleSwingup-v0", robot="cartpole")     # any cart-pole (PoleBalance-v0 too)

The older ids are aliases bound to their robot (sim.tasks.registry.ALIASES) and need no robot:
CartpoleBalance-v0, CartpoleSwingup-v0, IiwaReach-v0 (= Reach-v0 on the iiwa), A1Walk-v0 (= Walk-v0
on the A1). `TASKS` lists those, `GENERIC_TASKS` the tasks by kind.
"""

from __future__ import annotations

import os
import sys

from sim.tasks.registry import GENERIC_TASKS, TASK_SPECS, TASKS

__all__ = ["GENERIC_TASKS", "TASKS", "TASK_SPECS"]


def _default_gl() -> None:
    """MUJOCO_GL=egl where no display is and libEGL exists: MuJoCo reads MUJOCO_GL once, at its import,
    and its default (glfw) cannot render offscreen without a display. A user's own choice is kept;
    without EGL nothing is set (an unusable choice would break `import mujoco` itself), and rendering
    says what to install (sim/render.py)."""
    if "MUJOCO_GL" in os.environ or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    if "mujoco" in sys.modules:  # too late: MuJoCo has chosen its backend
        return
    import importlib.util

    if importlib.util.find_spec("mujoco") is None:  # a deploy machine without MuJoCo: nothing to choose
        return
    import ctypes.util

    if ctypes.util.find_library("EGL"):
        os.environ["MUJOCO_GL"] = "egl"


_default_gl()


def _register() -> None:
    try:
        import gymnasium
    except ImportError:  # a deploy machine needs no gymnasium
        return
    for spec in TASK_SPECS:
        if spec.env_id not in gymnasium.registry:
            gymnasium.register(id=spec.env_id, entry_point="sim.tasks.env:RobotTaskEnv", kwargs={"task": spec.id},
                               max_episode_steps=None)


_register()
