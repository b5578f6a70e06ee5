"""The algorithm protocol: all the runner (``robot_rl.train``) and rollout workers may rely on.

rsl_rl's split: an algorithm owns its networks, optimizers, buffers, RNG and counters, and says
how to save, restore and export them; the runner owns only the loop, logging, evaluation,
checkpoint files and signals. The runner never asks which algorithm it drives, so a new
algorithm is one file plus one line in ``robot_rl.algos.ALGORITHMS``.

Every algorithm is built the same way, ``cls(env, config, total_steps=..., seed=...)``, from a
SAME_STEP-autoreset vector env (``robot_rl.envs.make_vec_env``) and its config dataclass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np
from torch import nn

from robot_rl.algos.collector import VecCollector

ActionSpace = Literal["box", "discrete"]


@runtime_checkable
class Algorithm(Protocol):
    """What every algorithm in ``robot_rl.algos`` provides."""

    name: ClassVar[str]
    cfg: Any  # its config dataclass
    collector: VecCollector  # owns the vector env and the episode statistics
    global_step: int  # env steps taken so far (all envs together)

    def iterate(self) -> dict[str, float]:
        """Collect and learn for one iteration; scalar metrics (``loss/*`` are checked for NaN)."""
        ...

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Deterministic actions for a batch of raw observations (evaluation during training)."""
        ...

    def export_actor(self) -> nn.Module:
        """A detached copy of the deterministic actor, the same module ``actor_from_state`` builds."""
        ...

    def model_meta(self) -> dict[str, Any]:
        """Network shapes: enough for ``actor_from_state`` to rebuild the actor without an env."""
        ...

    def state_dict(self, include_replay: bool = True) -> dict[str, Any]:
        """Everything needed to continue exactly (tensors and plain values only, for weights_only
        loading); ``include_replay=False`` leaves out a replay buffer (snapshots, NaN checks)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    @staticmethod
    def actor_from_state(meta: dict[str, Any], state: dict[str, Any]) -> nn.Module:
        """The deterministic actor from a checkpoint's ``model_meta`` and ``state``, no env needed."""
        ...

    def close(self) -> None:
        """Close the env."""
        ...


@dataclass(frozen=True)
class AlgoSpec:
    """One entry of the algorithm registry: the class, its config and what it needs."""

    cls: type
    config_cls: type
    action_space: ActionSpace  # which envs it trains on
    default_steps: int  # the CLI's --steps when none is given
    summary: str
