"""Task ids -> task logic classes."""

from __future__ import annotations

TASKS = ("CartpoleBalance-v0", "CartpoleSwingup-v0", "IiwaReach-v0")


def logic_for(task: str):
    task = task.removeprefix("robot_rl/")
    if task in ("CartpoleBalance-v0", "CartpoleSwingup-v0"):
        from sim.tasks.cartpole import CartpoleBalance, CartpoleSwingup

        return CartpoleBalance if task == "CartpoleBalance-v0" else CartpoleSwingup
    if task == "IiwaReach-v0":
        from sim.tasks.iiwa_reach import IiwaReach

        return IiwaReach
    raise ValueError(f"unknown task '{task}'; tasks: {', '.join(TASKS)}")
