"""The cart-pole's part of the demo: its deployment plot (pole angle, cart, force) and the reality
gap of a cart-pole whose folder names none (demo.yaml). It runs the fixed-base loop without
fine-tuning (robot_rl.demo.fixed).

A cart-pole is two joints (sim/tasks/pole.py): the cart's on its rail, then the pole's hinge. The
derived gap: the pole 20% heavier, the hinge three times as damped, the rail four times as rough, the
motor 12% weaker, 15 ms of command latency (a whole number of 5 ms physics steps).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from calibration.load import RobotLog
    from sim.robot import RobotSpec

SUCCESS_BAND_DEG = 12.0  # the swing-up's success band about upright (sim/tasks/pole.py)


def derive_gap(robot: RobotSpec) -> dict[str, Any]:
    """The cart-pole's gap as a params mapping ({scale: s} of the nominal values, and the delay)."""
    cart, hinge = robot.joints[0].name, robot.joints[1].name
    pole_link = robot.moving_links[1]
    return {f"{pole_link}.mass": {"scale": 1.2}, f"{hinge}.damping": {"scale": 3.0},
            f"{cart}.frictionloss": {"scale": 4.0}, f"{robot.actuators[0].name}.gain": {"scale": 0.88},
            "action_delay": 0.015}


def plot_deployment(log: RobotLog, robot: RobotSpec):
    """Pole angle (with the success band), cart position (with its rail limits) and force command."""
    import matplotlib.pyplot as plt

    from sim.tasks.pole import rail_stop

    angle = np.degrees(np.arctan2(np.sin(log.q[:, 1]), np.cos(log.q[:, 1])))
    fig, axes = plt.subplots(3, 1, figsize=(8, 6), sharex=True)
    axes[0].plot(log.t, angle, lw=0.8)
    axes[0].axhspan(-SUCCESS_BAND_DEG, SUCCESS_BAND_DEG, color="tab:green", alpha=0.15,
                    label=f"success band ({SUCCESS_BAND_DEG:g} deg)")
    axes[0].set_ylabel("pole angle [deg]")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[1].plot(log.t, log.q[:, 0], lw=0.8)
    stop = rail_stop(robot)  # where an episode ends, short of the rail's ends
    for limit in (-stop, stop):
        axes[1].axhline(limit, color="tab:red", ls="--", lw=0.8)
    axes[1].set_ylabel("cart [m]")
    axes[2].step(log.command_t, log.command[:, 0], where="post", lw=0.8)
    axes[2].set_ylabel("force command [N]")
    return fig, axes
