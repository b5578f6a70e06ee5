"""The valid range of every algorithm setting (``--set KEY=VALUE``, presets, a run's config.yaml).

Why: the config dataclasses only carry types, and a wrong value rarely fails where it was given.
``--set learning_rate=-1e-3`` trains "fine" while climbing the loss, ``learning_rate=nan`` turns
every weight into NaN after the first update, ``num_minibatches=0`` crashes deep in the update
with a ``range() arg 3 must not be zero``. Here each setting has its range, checked once when the
algorithm's config is built, and a bad value is one line naming the setting, the value and what
is expected.

Sizes are checked before anything is allocated: a layer width, ``num_envs`` and the seed have upper
bounds, and `check_memory` estimates the memory the networks, the rollout storage and the replay
buffer need, from the settings alone (a lower bound: observation and action sizes count as 1), and
refuses settings that cannot fit in this machine's memory. ``--set hidden=[1e8,1e8]`` asked torch
for 40 PB and died in a traceback; now it is one line before the first allocation.
"""

from __future__ import annotations

import math
import os
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

# Seeds: numpy, torch (a signed 64-bit seed) and gymnasium each take them, offset by episode and step
# counts (eval seeds are seed + 10_000, a resumed run's envs seed + global_step). 2**32 - 1 keeps every
# such sum far from an overflow (`--seed 1e23` crashed in torch.manual_seed) and is numpy's legacy range.
MAX_SEED = 2**32 - 1
# Parallel envs in one process: each holds a simulator; 65536 is 16x legged_gym's 4096 and past what
# a CPU machine's memory holds for any of our robots (`--num-envs 100000000` tried to allocate them).
MAX_NUM_ENVS = 65536
# An MLP layer of a control policy: legged_gym uses 512; 65536 is already a 4-billion-weight square layer.
MAX_LAYER_WIDTH = 65536
MAX_LAYERS = 100
WIDTH = Range(1, MAX_LAYER_WIDTH, integer=True)
UNIT = Range(0.0, 1.0)  # a discount or a mixing factor
RATE = Range(0.0, 1.0, min_open=True)  # a learning or Polyak rate: > 0, at most 1

# Settings shared by name between algorithms mean the same thing in each.
RANGES: dict[str, Range] = {
    # both
    "num_envs": Range(1, MAX_NUM_ENVS, integer=True),
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
    "smoothness_coef": NON_NEGATIVE,
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
    "train_freq": COUNT,
    "n_steps": COUNT,
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


INIT_ACTIONS = ("zero", "hold")  # where a PPO actor's mean action starts (PPOConfig.init_action)


def check_settings(algo: str, values: Mapping[str, Any]) -> None:
    """Refuse any setting in ``values`` outside its range, and combinations that cannot run.

    ``values`` is the resolved settings (preset, then overrides), after type coercion; settings
    without an entry in `RANGES` (booleans) are type-checked by the caller only.
    """
    for name, value in values.items():
        if name == "hidden":
            widths = list(value) if isinstance(value, (list, tuple)) else None
            if not widths or len(widths) > MAX_LAYERS or not all(WIDTH.accepts(w) for w in widths):
                raise _fail(algo, name, value, f"a list of 1 to {MAX_LAYERS} layer widths, integers >= 1 and "
                            f"<= {MAX_LAYER_WIDTH}, e.g. [64, 64]")
            continue
        if name == "activation":
            if value not in ACTIVATIONS:
                raise _fail(algo, name, value, f"one of {', '.join(ACTIVATIONS)}")
            continue
        if name == "init_action":  # PPOConfig.init_action
            if value not in INIT_ACTIONS:
                raise _fail(algo, name, value, f"one of {', '.join(INIT_ACTIONS)}")
            continue
        rule = RANGES.get(name)
        if rule is not None and not rule.accepts(value):
            raise _fail(algo, name, value, rule.describe())


def check_combination(algo: str, cfg: Any) -> None:
    """Settings valid alone that cannot run together (checked on the built config dataclass), and
    settings whose memory cannot be allocated on this machine (`check_memory`)."""
    check_memory(algo, cfg)
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


FLOAT_BYTES = 4
# Per network parameter: the weight, its gradient and Adam's two moments.
COPIES_PER_PARAMETER = 4


def mlp_parameters(hidden: Any, in_dim: int = 1, out_dim: int = 1) -> int:
    """Weights and biases of an MLP in_dim -> hidden... -> out_dim (Python ints: no overflow)."""
    widths = [int(in_dim), *(int(w) for w in hidden), int(out_dim)]
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=False))


def memory_estimate(algo: str, cfg: Any) -> dict[str, int]:
    """Bytes the settings need at least, by part: observation and action sizes count as 1, so a real
    run needs more. Parts: ``networks`` (actor and critic, with gradients and Adam state),
    ``rollout`` (on-policy storage, ~10 floats per transition), ``replay`` (~5 floats per transition),
    ``activations`` (one update's minibatch through every layer, forward and backward)."""
    hidden = tuple(getattr(cfg, "hidden", ()) or ())
    n_critics = int(getattr(cfg, "n_critics", 1) or 1)
    params = mlp_parameters(hidden)
    parts = {"networks": params * (1 + n_critics) * COPIES_PER_PARAMETER * FLOAT_BYTES}
    num_envs = int(getattr(cfg, "num_envs", 1) or 1)
    if hasattr(cfg, "num_steps"):
        transitions = num_envs * int(cfg.num_steps)
        parts["rollout"] = transitions * 10 * FLOAT_BYTES
        minibatch = transitions // max(1, int(getattr(cfg, "num_minibatches", 1) or 1))
    else:
        minibatch = int(getattr(cfg, "batch_size", 1) or 1)
    if hasattr(cfg, "buffer_size"):
        parts["replay"] = int(cfg.buffer_size) * 5 * FLOAT_BYTES
    parts["activations"] = max(1, minibatch) * sum(int(w) for w in hidden) * 2 * FLOAT_BYTES
    return parts


def machine_memory() -> int | None:
    """Physical memory of this machine in bytes (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def _size(n: float) -> str:
    """Bytes for people: 3.2 GiB, 186 TiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024:
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"


def check_memory(algo: str, cfg: Any, available: int | None = None) -> None:
    """Refuse settings whose `memory_estimate` exceeds this machine's physical memory (``available``)."""
    available = machine_memory() if available is None else available
    if available is None:
        return
    parts = memory_estimate(algo, cfg)
    total = sum(parts.values())
    if total > available:
        biggest = max(parts, key=parts.get)
        knobs = {"networks": "hidden (and n_critics)", "rollout": "num_envs or num_steps", "replay": "buffer_size",
                 "activations": "hidden, or the minibatch (num_envs x num_steps / num_minibatches, batch_size)"}
        detail = ", ".join(f"{k} {_size(v)}" for k, v in parts.items() if v)
        if biggest == "networks":
            hidden = tuple(getattr(cfg, "hidden", ()))
            detail += f"; hidden {list(hidden)} alone is {mlp_parameters(hidden):,} weights per network"
        raise SettingRangeError(
            f"{algo} settings need at least {_size(total)} of memory ({detail}), more than this machine's "
            f"{_size(available)}; lower {knobs[biggest]} (--set KEY=VALUE)"
        )
