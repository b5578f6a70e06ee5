"""robot-rl simulation: robot descriptions, engines, tasks and domain randomization.

`import sim` registers the Gymnasium envs `robot_rl/CartpoleBalance-v0`, `robot_rl/CartpoleSwingup-v0`
and `robot_rl/IiwaReach-v0` (when gymnasium is installed) and imports nothing heavy: engines load
on first use, so the deploy runtime can import `sim.robot` and `sim.observations` without them.
"""

from __future__ import annotations

from sim.tasks.registry import TASKS


def _register() -> None:
    try:
        import gymnasium
    except ImportError:  # a deploy machine needs no gymnasium
        return
    for task in TASKS:
        env_id = f"robot_rl/{task}"
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point="sim.tasks.env:RobotTaskEnv", kwargs={"task": task})


_register()
