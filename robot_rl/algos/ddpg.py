"""DDPG (Lillicrap et al. 2016): TD3 (``td3.py``) with its three tricks switched off.

Deep Deterministic Policy Gradient is the algorithm TD3 fixed: one critic (no clipped double-Q,
so it overestimates), the actor and targets updated after every critic step (no delay), and no
noise on the target action (no smoothing). Everything else, the replay buffer, Gaussian
exploration noise, Polyak targets and time-limit bootstrapping, is shared, so the update is read
once in ``td3.py``; this file only fixes the settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from robot_rl.algos.td3 import TD3, TD3Config


@dataclass
class DDPGConfig(TD3Config):
    n_critics: int = 1  # one critic: the target is Q'(s', mu'(s')), not a minimum of two
    policy_delay: int = 1  # the actor follows the critic at every update
    target_noise: float = 0.0  # no target policy smoothing
    tau: float = 0.005  # targets move after every update (TD3's 0.01 is for its every-other-update targets)


class DDPG(TD3):
    name = "ddpg"
