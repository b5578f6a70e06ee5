"""robot-rl simulation: robot descriptions, engines, tasks and domain randomization.

`import sim` registers every task of the registry (sim/tasks/registry.py) as a Gymnasium env
`robot_rl/<Task>` (when gymnasium is installed): CartpoleBalance-v0, CartpoleSwingup-v0,
IiwaReach-v0, A1Walk-v0, and imports nothing heavy: engines load
on first use, so the deploy runtime can import `sim.robot` and `sim.observations` without them.
"""

from __future__ import annotations

from sim.tasks.registry import TASK_SPECS, TASKS

__all__ = ["TASKS", "TASK_SPECS"]


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
