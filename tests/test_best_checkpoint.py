"""The best evaluated checkpoint: written by the runner, chosen by eval/export by default, named where used.

A run that collapses late (DQN on CartPole) must hand over its peak, as SB3's EvalCallback keeps a best
model. The evaluations here are scripted (5, 9, 3 at steps 256, 384 and 512, the last one off the
every-192 schedule), so which state is the best is known exactly and differs from the last one.
"""

from __future__ import annotations

import json

import pytest
import torch

from robot_rl.cli import main
from robot_rl.errors import CheckpointError
from robot_rl.train import RunConfig, Trainer, load_policy, resolve_checkpoint, train
from robot_rl.training.checkpoint import load_checkpoint
from robot_rl.training.evaluation import default_eval_every

TINY_PPO = {"num_envs": 4, "num_steps": 32, "num_minibatches": 2, "update_epochs": 2, "hidden": [16, 16]}
SCRIPTED = [5.0, 9.0, 3.0]  # periodic evaluations at steps 256, 384 and 512 (the last iteration)


def _config(eval_every: int) -> RunConfig:
    return RunConfig(env_id="robot_rl/CartpoleBalance-v0", algo="ppo", steps=512, seed=3, engine="mujoco",
                     randomize="default", eval_every=eval_every, eval_episodes=1, checkpoint_every=0,
                     algo_config=dict(TINY_PPO), command="robot-rl train (test)")  # fmt: skip


@pytest.fixture(scope="module")
def scripted_run(tmp_path_factory):
    """A run whose periodic evaluations return SCRIPTED; the final evaluation is a real one."""
    run = tmp_path_factory.mktemp("best") / "run"
    returns = iter(SCRIPTED)
    real_evaluate = Trainer.evaluate

    def scripted(self, episodes, seed):
        if seed == self.config.seed + 10_000:  # the runner's periodic-evaluation seed
            value = next(returns)
            return {"mean_return": value, "std_return": 0.0, "min_return": value, "max_return": value,
                    "mean_length": 1.0, "success_rate": None, "episodes": 1, "returns": [value]}  # fmt: skip
        return real_evaluate(self, episodes, seed)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Trainer, "evaluate", scripted)
        train(_config(eval_every=192), run, progress=False)  # iterations of 128 steps: evaluated at 256, 384
    assert next(returns, None) is None, "the last iteration (step 512) must be evaluated too"
    return run


def test_runner_keeps_the_best_evaluated_state_next_to_the_last(scripted_run):
    best = load_checkpoint(scripted_run / "checkpoints" / "best.pt")
    last = load_checkpoint(scripted_run / "checkpoints" / "last.pt")
    assert best["global_step"] == 384 and best["runner"]["best_return"] == 9.0
    assert last["global_step"] == 512
    best_actor, meta = load_policy(scripted_run, "best")
    last_actor, _ = load_policy(scripted_run, "last")
    assert meta["checkpoint_kind"] == "best" and meta["checkpoint_eval_return"] == 9.0
    obs = torch.randn(8, meta["obs_dim"])
    assert not torch.equal(best_actor(obs), last_actor(obs))  # two different states, not one file twice


def test_default_is_best_when_the_run_has_one_else_last(scripted_run, tmp_path):
    assert resolve_checkpoint(scripted_run) == (scripted_run / "checkpoints" / "best.pt", "best")
    assert resolve_checkpoint(scripted_run, "last") == (scripted_run / "checkpoints" / "last.pt", "last")
    assert resolve_checkpoint(scripted_run, "best.pt")[1] == "best"  # the old file-name spelling still works
    never_evaluated = tmp_path / "plain"  # too short for its first periodic evaluation: no best.pt, no extra eval
    train(_config(eval_every=5_000), never_evaluated, progress=False)
    assert not (never_evaluated / "checkpoints" / "best.pt").exists()
    assert resolve_checkpoint(never_evaluated) == (never_evaluated / "checkpoints" / "last.pt", "last")
    with pytest.raises(CheckpointError, match="no best checkpoint.*--checkpoint last"):
        load_policy(never_evaluated, "best")


def test_eval_says_which_checkpoint_it_used(scripted_run, capsys):
    capsys.readouterr()
    assert main(["eval", str(scripted_run), "--episodes", "1"]) == 0
    out = capsys.readouterr().out
    assert "checkpoint: best" in out and "step 384" in out and "periodic eval return 9.0" in out
    assert main(["eval", str(scripted_run), "--episodes", "1", "--checkpoint", "last", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # stdout stays one JSON object; the note goes to stderr
    assert result["checkpoint_kind"] == "last" and result["global_step"] == 512
    assert "checkpoint: last" in captured.err


def test_export_records_the_checkpoint_in_the_card(scripted_run, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "policy"
    assert main(["export", str(scripted_run), "--out", str(out), "--eval-episodes", "0"]) == 0
    assert "checkpoint: best" in capsys.readouterr().out
    card = json.loads((out / "policy.json").read_text())
    training = card["training"]
    assert training["checkpoint_kind"] == "best" and training["global_step"] == 384
    assert training["checkpoint_eval_return"] == 9.0
    assert "--checkpoint best" in card["export"]["command"]  # the card's command repeats the same choice
    assert main(["export", str(scripted_run), "--out", str(out), "--force", "--eval-episodes", "0",
                 "--checkpoint", "last"]) == 0  # fmt: skip
    card = json.loads((out / "policy.json").read_text())
    assert card["training"]["checkpoint_kind"] == "last" and card["training"]["global_step"] == 512
    assert card["training"]["checkpoint_eval_return"] is None


def test_cli_default_evaluates_about_ten_times_a_run():
    # Ten evaluations choose best.pt; at least 5k steps apart (short test runs stay unevaluated), at most 50k.
    assert [default_eval_every(n) for n in (2_048, 80_000, 200_000, 1_000_000)] == [5_000, 8_000, 20_000, 50_000]
