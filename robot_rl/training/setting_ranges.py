"""The valid range of every algorithm setting (``--set KEY=VALUE``, presets, a run's config.yaml).

Why: the config dataclasses only carry types, and a wrong value rarely fails where it was given.
``--set learning_rate=-1e-3`` trains "fine" while climbing the loss, ``learning_rate=nan`` turns
every weight into NaN after the first update, ``num_minibatches=0`` crashes deep in the update
with a ``range() arg 3 must not be zero``. Here each setting has its range, checked once when the
algorithm's config is built, and a bad value is one line naming the setting, the value and what
is expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from robot_rl.errors import RobotRLError


class SettingRangeError(RobotRLError):
    """An algorithm setting is outside its valid range."""


@dataclass(frozen=True)
class Range:
    """A numeric range; ``None`` ends are open-ended. ``optional``: None is allowed (it means 'off')."""

    minimum: float | None = None
    maximum: float | None = None
    min_open: bool = False
    max_open: bool = False
    integer: bool = False
    optional: bool = False

    def describe(self) -> str:
        parts = [f"{'>' if self.min_open else '>='} {self.minimum:g}"] if self.minimum is not None else []
        if self.maximum is not None:
            parts.append(f"{'<' if self.max_open else '<='} {self.maximum:g}")
        kind = "an integer" if self.integer else "a finite number"
        text = f"{kind} {' and '.join(parts)}".strip()
        return text + (" (or null: off)" if self.optional else "")

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.integer and not float(value).is_integer():
            return False
        if self.minimum is not None and (value <= self.minimum if self.min_open else value < self.minimum):
            return False
        return not (self.maximum is not None and (value >= self.maximum if self.max_open else value > self.maximum))


POSITIVE = Range(0.0, min_open=True)
NON_NEGATIVE = Range(0.0)
COUNT = Range(1, integer=True)
UNIT = Range(0.0, 1.0)  # a discount or a mixing factor
RATE = Range(0.0, 1.0, min_open=True)  # a learning or Polyak rate: > 0, at most 1

# Settings shared by name between algorithms mean the same thing in each.
RANGES: dict[str, Range] = {
    # both
    "num_envs": COUNT,
    "gamma": UNIT,
    "hidden": COUNT,  # each layer width
    # PPO
    "num_steps": COUNT,
    "num_minibatches": COUNT,
    "update_epochs": COUNT,
    "learning_rate": RATE,
    "desired_kl": Range(0.0, min_open=True, optional=True),
    "gae_lambda": UNIT,
    "clip_coef": POSITIVE,
    "ent_coef": NON_NEGATIVE,
    "vf_coef": NON_NEGATIVE,
    "max_grad_norm": POSITIVE,
    "target_kl": Range(0.0, min_open=True, optional=True),
    "init_log_std": Range(-20.0, 5.0),
    # SAC
    "buffer_size": COUNT,
    "batch_size": COUNT,
    "learning_starts": Range(0, integer=True),
    "utd": POSITIVE,
    "tau": RATE,
    "actor_lr": RATE,
    "critic_lr": RATE,
    "alpha_lr": RATE,
    "init_alpha": POSITIVE,
    "target_entropy": Range(optional=True),
    "steps_per_iteration": COUNT,
    # TD3 / DDPG
    "exploration_noise": NON_NEGATIVE,
    "n_critics": COUNT,
    "policy_delay": COUNT,
    "target_noise": NON_NEGATIVE,
    "target_noise_clip": NON_NEGATIVE,
    # DQN
    "target_update_interval": COUNT,
    "exploration_fraction": Range(0.0, 1.0, min_open=True),
    "final_epsilon": UNIT,
    # TRPO
    "max_kl": POSITIVE,
    "cg_iters": COUNT,
    "cg_damping": NON_NEGATIVE,
    "line_search_shrink": Range(0.0, 1.0, min_open=True, max_open=True),
    "line_search_steps": COUNT,
    "critic_epochs": COUNT,
    "critic_minibatch": COUNT,
}
ACTIVATIONS = ("tanh", "elu", "relu")  # robot_rl.algos.modules.ACTIVATIONS (kept import-free of torch here)


def _fail(algo: str, name: str, value: Any, expected: str) -> SettingRangeError:
    return SettingRangeError(
        f"{algo} setting '{name}' is {value!r}; expected {expected} (change it with --set {name}=VALUE)"
    )


def check_settings(algo: str, values: Mapping[str, Any]) -> None:
    """Refuse any setting in ``values`` outside its range, and combinations that cannot run.

    ``values`` is the resolved settings (preset, then overrides), after type coercion; settings
    without an entry in `RANGES` (booleans) are type-checked by the caller only.
    """
    for name, value in values.items():
        if name == "hidden":
            widths = list(value) if isinstance(value, (list, tuple)) else None
            if not widths or not all(COUNT.accepts(w) for w in widths):
                raise _fail(algo, name, value, "a non-empty list of layer widths, integers >= 1, e.g. [64, 64]")
            continue
        if name == "activation":
            if value not in ACTIVATIONS:
                raise _fail(algo, name, value, f"one of {', '.join(ACTIVATIONS)}")
            continue
        rule = RANGES.get(name)
        if rule is not None and not rule.accepts(value):
            raise _fail(algo, name, value, rule.describe())


def check_combination(algo: str, cfg: Any) -> None:
    """Settings valid alone that cannot run together (checked on the built config dataclass)."""
    if algo == "ppo":
        batch = int(cfg.num_envs) * int(cfg.num_steps)
        if cfg.num_minibatches > batch:
            raise SettingRangeError(
                f"ppo setting 'num_minibatches' is {cfg.num_minibatches}, more than the batch of num_envs x "
                f"num_steps = {batch} transitions; use at most {batch} (--set num_minibatches=N)"
            )
    elif algo in ("sac", "td3", "ddpg", "dqn") and cfg.batch_size > cfg.buffer_size:
        raise SettingRangeError(
            f"{algo} setting 'batch_size' is {cfg.batch_size}, larger than buffer_size {cfg.buffer_size}; "
            "lower it or raise buffer_size (--set batch_size=N)"
        )
