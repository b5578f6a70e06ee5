"""PPO and SAC in torch, for any Gymnasium env with Box observation and action spaces.

Layout (rsl_rl-like): ``modules`` (networks, normalization), ``storage`` (rollout and replay
buffers, GAE), ``collector`` (stepping a SAME_STEP-autoreset vector env), and one file per
algorithm that reads top to bottom (``ppo``, ``sac``). The runner that owns logging, checkpoints
and evaluation is ``robot_rl.train``.
"""

from robot_rl.algos.ppo import PPO, PPOConfig
from robot_rl.algos.sac import SAC, SACConfig

__all__ = ["PPO", "PPOConfig", "SAC", "SACConfig"]
