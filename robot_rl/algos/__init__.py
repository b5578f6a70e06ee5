"""Our RL algorithms in torch, one file each, on shared infrastructure.

Layout (rsl_rl-like): ``base`` (the ``Algorithm`` protocol the runner relies on), ``modules``
(networks, normalization), ``storage`` (rollout and replay buffers, GAE), ``collector`` (stepping
a SAME_STEP-autoreset vector env), and one file per algorithm that reads top to bottom. The
runner that owns logging, checkpoints and evaluation is ``robot_rl.train``.
"""

from robot_rl.algos.a2c import A2C, A2CConfig
from robot_rl.algos.base import Algorithm, AlgoSpec
from robot_rl.algos.ddpg import DDPG, DDPGConfig
from robot_rl.algos.dqn import DQN, DQNConfig
from robot_rl.algos.ppo import PPO, PPOConfig
from robot_rl.algos.sac import SAC, SACConfig
from robot_rl.algos.td3 import TD3, TD3Config
from robot_rl.algos.trpo import TRPO, TRPOConfig

ALGORITHMS: dict[str, AlgoSpec] = {
    "ppo": AlgoSpec(PPO, PPOConfig, "box", 1_000_000, "PPO, clipped surrogate (on-policy; robot tasks)"),
    "sac": AlgoSpec(SAC, SACConfig, "box", 100_000, "SAC, entropy-regularized off-policy (sample-efficient)"),
    "td3": AlgoSpec(TD3, TD3Config, "box", 100_000, "TD3, deterministic actor, twin critics (off-policy)"),
    "ddpg": AlgoSpec(DDPG, DDPGConfig, "box", 100_000, "DDPG, TD3 without its three tricks (off-policy)"),
    "a2c": AlgoSpec(A2C, A2CConfig, "box", 1_000_000, "A2C, one policy-gradient step per rollout; "
                    "REINFORCE with --set use_critic=false"),
    "trpo": AlgoSpec(TRPO, TRPOConfig, "box", 1_000_000, "TRPO, natural gradient in a KL trust region"),
    "dqn": AlgoSpec(DQN, DQNConfig, "discrete", 100_000, "DQN (double-Q, n-step returns), Discrete actions only"),
}

__all__ = [
    "A2C",
    "ALGORITHMS",
    "DDPG",
    "DQN",
    "PPO",
    "SAC",
    "TD3",
    "TRPO",
    "A2CConfig",
    "AlgoSpec",
    "Algorithm",
    "DDPGConfig",
    "DQNConfig",
    "PPOConfig",
    "SACConfig",
    "TD3Config",
    "TRPOConfig",
]
