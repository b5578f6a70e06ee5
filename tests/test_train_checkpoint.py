"""Checkpoint files: atomic, NaN-refusing, weights_only-loadable, and clear errors for bad files."""

from __future__ import annotations

import pickle

import pytest
import torch

from robot_rl.errors import CheckpointError
from robot_rl.training.checkpoint import load_checkpoint, save_checkpoint


def _payload(value: float = 1.0, algo: str = "ppo") -> dict:
    return {"algo": algo, "global_step": 10, "model_meta": {"obs_dim": 2}, "state": {"w": torch.full((3,), value)}}


def test_roundtrip_loads_with_weights_only_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "ck" / "last.pt"
    save_checkpoint(path, _payload(2.0))
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]
    raw = torch.load(path, weights_only=True)  # plain state: no pickled classes
    assert raw["format"] == "robot_rl.checkpoint"
    assert torch.equal(load_checkpoint(path, expected_algo="ppo")["state"]["w"], torch.full((3,), 2.0))


def test_nan_state_is_refused_and_previous_checkpoint_kept(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, _payload(1.0))
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=r"state\.w.*NaN"):
        save_checkpoint(path, _payload(float("nan")))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nope.pt")


def test_corrupt_and_truncated_files_give_clear_errors(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a torch file")
    with pytest.raises(CheckpointError, match=r"garbage\.pt: cannot be read as a robot-rl checkpoint"):
        load_checkpoint(garbage)
    good = tmp_path / "good.pt"
    save_checkpoint(good, _payload())
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(truncated)


class _Evil:
    def __reduce__(self):
        return (print, ("code ran",))


def test_foreign_files_are_rejected(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": {"w": torch.zeros(2)}}, foreign)  # a torch file, but not ours
    with pytest.raises(CheckpointError, match="not a robot-rl checkpoint"):
        load_checkpoint(foreign)
    pickled = tmp_path / "pickled.pt"
    pickled.write_bytes(pickle.dumps(_Evil()))  # weights_only refuses to run code
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(pickled)
    other_algo = tmp_path / "sac.pt"
    save_checkpoint(other_algo, _payload(algo="sac"))
    with pytest.raises(CheckpointError, match="holds a 'sac' checkpoint but this run uses 'ppo'"):
        load_checkpoint(other_algo, expected_algo="ppo")
