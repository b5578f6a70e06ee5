"""`robot-rl train --init-from`: a new PPO run starts from a checkpoint's networks (fine-tuning).

The shipped reach checkpoint (policies/iiwa_reach/checkpoint.pt) is the fixture: a run started from
it acts exactly like it before any update, and a run whose network differs is refused in one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from robot_rl.errors import CheckpointError
from robot_rl.train import RunConfig, Trainer, read_run_config
from robot_rl.training.checkpoint import load_checkpoint

CHECKPOINT = Path(__file__).resolve().parents[1] / "policies" / "iiwa_reach" / "checkpoint.pt"


def _config(**settings) -> RunConfig:
    base = dict(load_checkpoint(CHECKPOINT, expected_algo="ppo")["algo_config"])
    base.update(num_envs=2, num_steps=8, **settings)
    return RunConfig(env_id="robot_rl/IiwaReach-v0", algo="ppo", steps=16, eval_every=0, algo_config=base,
                     init_from=str(CHECKPOINT))


def test_a_run_from_a_checkpoint_starts_with_its_networks(tmp_path: Path):
    trainer = Trainer(_config(learning_rate=1e-4), tmp_path / "run")
    state = load_checkpoint(CHECKPOINT)["state"]
    for name, value in state["model"].items():
        assert torch.equal(trainer.algo.model.state_dict()[name], value), name
    assert trainer.algo.global_step == 0  # a new run, not a resume
    obs = np.zeros((1, 30), dtype=np.float32)
    assert np.all(np.isfinite(trainer.algo.act(obs)))
    assert read_run_config(tmp_path / "run").init_from == str(CHECKPOINT)


def test_a_different_network_is_refused(tmp_path: Path):
    with pytest.raises(CheckpointError, match="does not match this run's"):
        Trainer(_config(hidden=[64, 64]), tmp_path / "run")
