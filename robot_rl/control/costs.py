"""The sampling MPC's costs, one per task family, over a batch of rolled-out plans.

Each is a function cost(q, qd, sites, u, goal) -> (K,) (see `robot_rl.control.mpc.Cost`): q, qd are
(K, H, n_joints) after each control step, u (K, H, n_actuators), sites (K, H, n_sites, 3).

* **Swing-up** (a cart-pole, `swingup_cost`), per step, summed, the last step weighted ``terminal``
  more:
      (1 - cos theta) / 2                              upright (theta = 0 up)
    + energy * ((E - E_up) / (2 m g l))^2              the pole's energy towards the upright's
    + 0.1 (x / x_stop)^2 + 0.01 xd^2                   the cart near the centre, slow
    + 1e4 max(|x| - x_wall, 0)^2                       a soft wall 0.13 m before the rail stop
  E = 1/2 I thd^2 + m g l cos theta is the pole's energy about the hinge (I, m g l read from the model,
  so a calibrated pole mass changes them). Why an energy term and not the task's reward alone: a
  receding horizon of about a second cannot see a whole swing-up, and on the reward alone the best
  plan it finds is to spin the pole through the top; the energy error tells a short horizon which way
  is up (Astrom and Furuta's swing-up objective) and makes spinning past the top cost as much as
  hanging still.
* **Reach** (an arm, `reach_cost`): the task's reward terms, negated, with the task's weights except
  the precision term, weighted 3x:
      d - 0.5 [d < 5 cm] - 3 exp(-d / 1 cm) + 0.001 |qd|^2,   d = |end effector - goal|
  Why 3x: sampled plans are noisy at the scale of the sampling noise (a few cm at the end effector);
  the peaked term is what makes the last 2 cm worth more than the noise they cost.
"""

from __future__ import annotations

import numpy as np

from robot_rl.control.model import PlanningModel
from robot_rl.control.mpc import Cost

__all__ = ["PoleEnergy", "reach_cost", "swingup_cost"]

RAIL_MARGIN = 0.02  # m: a pole task ends this far before the slider's limit (sim/tasks/pole.py)
WALL_BEFORE_STOP = 0.13  # m: where the soft wall starts, before the rail stop


class PoleEnergy:
    """The pole's inertia about the hinge and m g l, from the model (nominal or calibrated)."""

    def __init__(self, model: PlanningModel):
        mujoco, m = model.mujoco, model.model
        hinge = int(model.vadr[1])
        d = model.set_state(np.zeros(model.nq), np.zeros(model.nv), mujoco.MjData(m))
        full = np.zeros((m.nv, m.nv))
        mujoco.mj_fullM(m, d, full)
        self.inertia = float(full[hinge, hinge])
        q = np.zeros(model.nq)
        q[1] = np.pi / 2  # pole horizontal: the gravity torque is m g l
        d = model.set_state(q, np.zeros(model.nv), d)
        self.mgl = float(abs(d.qfrc_bias[hinge]))

    def relative(self, theta: np.ndarray, theta_dot: np.ndarray) -> np.ndarray:
        """(E - E_upright) / (2 m g l): 0 upright at rest, -1 hanging at rest."""
        e = 0.5 * self.inertia * theta_dot**2 + self.mgl * (np.cos(theta) - 1.0)
        return e / (2.0 * self.mgl)


def swingup_cost(model: PlanningModel, energy: float = 1.0, terminal: float = 5.0) -> Cost:
    """The swing-up cost of the module docstring for a cart-pole model."""
    pole = PoleEnergy(model)
    lo, hi = model.robot.joints[0].position_limits
    x_stop = min(-lo, hi) - RAIL_MARGIN
    x_wall = x_stop - WALL_BEFORE_STOP

    def cost(q, qd, sites, u, goal):
        x, th, xd, thd = q[..., 0], q[..., 1], qd[..., 0], qd[..., 1]
        c = (1.0 - np.cos(th)) / 2.0 + energy * pole.relative(th, thd) ** 2
        c = c + 0.1 * (x / x_stop) ** 2 + 0.01 * xd**2 + 1e4 * np.maximum(np.abs(x) - x_wall, 0.0) ** 2
        return c.sum(axis=1) + terminal * c[:, -1]

    return cost


def reach_cost(precision: float = 3.0, terminal: float = 0.0) -> Cost:
    """The reach cost of the module docstring (the model's first extra site is the end effector)."""

    def cost(q, qd, sites, u, goal):
        d = np.linalg.norm(sites[:, :, 0] - goal, axis=-1)
        c = d - 0.5 * (d < 0.05) - precision * np.exp(-d / 0.01) + 0.001 * np.sum(qd**2, axis=-1)
        return c.sum(axis=1) + terminal * c[:, -1]

    return cost
