"""Our RL algorithms in torch, one file each, on shared infrastructure.

Layout (rsl_rl-like): ``base`` (the ``Algorithm`` protocol the runner relies on), ``modules``
(networks, normalization), ``storage`` (rollout and replay buffers, GAE), ``collector`` (stepping
a SAME_STEP-autoreset vector env), and one file per algorithm that reads top to bottom. The
runner that owns logging, checkpoints and evaluation is ``robot_rl.train``.
"""

from robot_rl.algos.base import Algorithm, AlgoSpec
from robot_rl.algos.ppo import PPO, PPOConfig
from robot_rl.algos.sac import SAC, SACConfig

ALGORITHMS: dict[str, AlgoSpec] = {
    "ppo": AlgoSpec(PPO, PPOConfig, "box", 1_000_000, "PPO, clipped surrogate (on-policy; robot tasks)"),
    "sac": AlgoSpec(SAC, SACConfig, "box", 100_000, "SAC, entropy-regularized off-policy (sample-efficient)"),
}

__all__ = ["ALGORITHMS", "PPO", "SAC", "AlgoSpec", "Algorithm", "PPOConfig", "SACConfig"]
