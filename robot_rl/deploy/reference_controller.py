"""A classical swing-up controller for any robot of the cart-pole kind, exported as a policy folder like
any trained policy.

Why: the deploy chain (transport, policy node, safety filter, sim robot) must be testable without
waiting for a training run, and a robot's first bring-up should not depend on a learned policy
either. This controller reads the same observation a policy reads (``sim.observations``) and
writes an action in [-1, 1]; ``export_reference_policy`` turns it into ``policy.onnx`` +
``policy.json`` through the project's own exporter, so the runtime checks it exactly as it checks
a trained policy.

The law (Astrom & Furuta energy pumping, then LQR):
* far from upright (cos < 0.8): push the cart so the pole's energy
  ``E = J/2 thd^2 + m g l (cos - 1)`` rises towards 0 (upright at rest):
  ``F = clip(20 E thd cos, +-10 N) - 6 x - 3 xd``, the last terms keeping the cart centred;
* near upright: ``F = -K [x, theta, xd, thd]`` with K from the continuous-time LQR of the
  linearized cart-pole (Q = diag(5, 50, 1, 1), R = 0.05).
On the nominal lab cart-pole it swings up within ~3 s in both engines (5 s episodes).
Needs torch and scipy (export time only).

Written for the kind, not a robot: the cart is the first joint's child link, the pole the second's
(the kind's layout, sim/tasks/pole.py), masses and inertia come from the robot's description; the
robot defaults to the one the alias table binds the kind's swing-up to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sim.robot import RobotSpec, load_robot

TASK = "PoleSwingup-v0"  # the task by kind this controller does
POLE_COM = 0.25  # m from the hinge to the pole's centre of mass (robot.urdf, pole inertial origin)
GRAVITY = 9.81


def lqr_gain(robot: RobotSpec) -> np.ndarray:
    """K for u = -K [x, theta, xd, thd] from the robot's nominal masses, pole inertia and cart damping."""
    import scipy.linalg

    cart, pole = robot.urdf.joints["slider"].child, robot.urdf.joints["hinge"].child
    big_m, m = robot.nominal[f"{cart}.mass"], robot.nominal[f"{pole}.mass"]
    inertia = robot.urdf.links[pole].inertia_diag[1] + m * POLE_COM**2  # about the hinge
    damping = robot.nominal["slider.damping"]
    mass = np.array([[big_m + m, m * POLE_COM], [m * POLE_COM, inertia]])
    inv = np.linalg.inv(mass)
    a = np.zeros((4, 4))
    a[0, 2] = a[1, 3] = 1.0
    a[2:, :] = inv @ np.array([[0.0, 0.0, -damping, 0.0], [0.0, m * GRAVITY * POLE_COM, 0.0, 0.0]])
    b = np.zeros((4, 1))
    b[2:, 0] = inv @ np.array([1.0, 0.0])
    q, r = np.diag([5.0, 50.0, 1.0, 1.0]), np.array([[0.05]])
    p = scipy.linalg.solve_continuous_are(a, b, q, r)
    return (np.linalg.inv(r) @ b.T @ p)[0]


def build_actor(robot: RobotSpec) -> Any:
    """The controller as a torch module: raw observation [B, 6] -> action [B, 1] in [-1, 1]."""
    import torch

    cart, pole = robot.urdf.joints["slider"].child, robot.urdf.joints["hinge"].child
    m = robot.nominal[f"{pole}.mass"]
    inertia = robot.urdf.links[pole].inertia_diag[1] + m * POLE_COM**2
    force_scale = robot.actuators[0].effort_limit
    gain = torch.tensor(lqr_gain(robot), dtype=torch.float32)
    del cart

    class SwingupController(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("gain", gain)

        def forward(self, obs: torch.Tensor) -> torch.Tensor:
            x, c, s, xd, thd = obs[:, 0], obs[:, 1], obs[:, 2], obs[:, 3], obs[:, 4]
            theta = torch.atan2(s, c)
            balance = -(self.gain[0] * x + self.gain[1] * theta + self.gain[2] * xd + self.gain[3] * thd)
            energy = 0.5 * inertia * thd * thd + m * GRAVITY * POLE_COM * (c - 1.0)
            pump = torch.clamp(20.0 * energy * thd * c, -10.0, 10.0) - 6.0 * x - 3.0 * xd
            force = torch.where(c > 0.8, balance, pump)
            return torch.clamp(force / force_scale, -1.0, 1.0).unsqueeze(-1)

    return SwingupController()


def default_robot() -> str:
    """The robot the alias table binds `TASK` to (the shipped cart-pole): the default of the two functions below."""
    from sim.tasks.registry import ALIASES

    return next(r for t, r in ALIASES.values() if t == TASK)


def task_id(robot: RobotSpec) -> str:
    """`TASK` under the alias id naming `robot` where the alias table has one (the id a shipped policy's card
    carries, so the runtime treats this policy as it treats the trained one), else `TASK`."""
    from sim.tasks.registry import ALIASES

    return next((a for a, (t, r) in ALIASES.items() if t == TASK and r == robot.name), TASK)


def export_reference_policy(out_dir: str | Path, robot: RobotSpec | str | None = None) -> dict[str, Any]:
    """Write the controller as a policy folder (policy.onnx + policy.json) for `robot` (default:
    `default_robot()`); returns the card."""
    from robot_rl.export import export_actor

    spec = robot if isinstance(robot, RobotSpec) else load_robot(robot or default_robot())
    meta = {
        "task": task_id(spec),
        "robot": spec.name,
        "algo": "reference-controller (energy pumping + LQR)",
        "command": "robot_rl.deploy.reference_controller.export_reference_policy",
    }
    return export_actor(
        build_actor(spec), meta, out_dir, name=f"{spec.name}_swingup_reference", robot=spec, parity_samples=200
    )


def cached_reference_policy(cache_root: str | Path, robot: str | None = None) -> Path:
    """The exported reference policy under `cache_root`, re-exported only when its sources change.

    Exporting takes ~10 s (torch.onnx); tests and benchmarks share one copy keyed by a hash of
    the controller, the exporter and the robot description.
    """
    import hashlib

    from robot_rl import export
    from robot_rl.runtime.card import CARD_FILE

    spec = load_robot(robot or default_robot())
    digest = hashlib.sha256()
    for source in (Path(__file__), Path(export.__file__), spec.yaml_path, spec.urdf_path):
        digest.update(source.read_bytes())
    out = Path(cache_root) / f"{spec.name}_swingup_reference_{digest.hexdigest()[:12]}"
    if not (out / CARD_FILE).is_file():
        export_reference_policy(out, spec)
    return out
