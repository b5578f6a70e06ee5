"""export_actor: ONNX parity with the torch actor, and a model card that states the whole contract."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import robot_rl.export as export_module
from robot_rl.algos.modules import GaussianActorCritic, SquashedGaussianActor
from robot_rl.algos.sac import deterministic_from_actor
from robot_rl.errors import PolicyContractError
from robot_rl.export import export_actor
from robot_rl.runtime import load_policy_folder
from robot_rl.runtime.card import onnx_opsets
from sim.observations import task_interface
from sim.robot import load_robot

META = {
    "task": "CartpoleSwingup-v0",
    "algo": "ppo",
    "engine": "mujoco",
    "randomize": "default",
    "seed": 11,
    "command": "robot-rl train --task CartpoleSwingup-v0 --algo ppo --seed 11 --out runs/x",
    "global_step": 123,
}


def ppo_actor(obs_dim: int, act_dim: int) -> torch.nn.Module:
    torch.manual_seed(0)
    model = GaussianActorCritic(obs_dim, act_dim, (64, 64), "tanh", True, 0.0)
    for layer in model.actor:
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.normal_(layer.weight, std=0.6)  # actions reach the clip, not only ~0
    model.actor_normalizer.mean.normal_(0.0, 1.0)
    model.actor_normalizer.var.uniform_(0.1, 3.0)
    return model.deterministic().eval()


def sac_actor(obs_dim: int, act_dim: int) -> torch.nn.Module:
    torch.manual_seed(1)
    actor = SquashedGaussianActor(obs_dim, act_dim, (64, 64), "relu", normalize=True)
    actor.normalizer.mean.normal_(0.0, 1.0)
    last = [m for m in actor.net if isinstance(m, torch.nn.Linear)][-1]
    torch.nn.init.normal_(last.weight, std=0.5)  # tanh reaches saturation on some observations
    return deterministic_from_actor(actor).eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("export")
    out = {}
    ppo = ppo_actor(6, 1)
    evaluation = {"results": {"mujoco": {"mean_return": 1.0}}}
    out["ppo"] = (ppo, root / "ppo", export_actor(ppo, META, root / "ppo", evaluation=evaluation, export_command="x"))
    sac = sac_actor(30, 7)
    meta = {**META, "task": "IiwaReach-v0", "algo": "sac"}
    out["sac"] = (sac, root / "sac", export_actor(sac, meta, root / "sac"))
    return out


@pytest.mark.parametrize("which", ["ppo", "sac"])
def test_onnxruntime_matches_torch_on_1000_random_observations(exported, which):
    actor, folder, card = exported[which]
    policy = load_policy_folder(folder)
    rng = np.random.default_rng(12345)  # not the exporter's own sample
    obs = (rng.standard_normal((1000, policy.obs_size)) * rng.uniform(0.1, 5.0, (1000, 1))).astype(np.float32)
    with torch.no_grad():
        expected = actor(torch.from_numpy(obs)).numpy()
    np.testing.assert_allclose(policy(obs), expected, rtol=0, atol=1e-5)
    single = np.stack([policy.act1(o).copy() for o in obs[:200]])
    np.testing.assert_allclose(single, expected[:200], rtol=0, atol=1e-5)
    assert np.abs(expected).max() > 0.9  # the squashing was exercised, not only the linear middle
    assert card["parity"]["passed"] and card["parity"]["samples"] == 1000


def test_card_states_the_contract(exported):
    actor, folder, card = exported["ppo"]
    on_disk = json.loads((folder / "policy.json").read_text())
    assert on_disk == card
    for name in ("policy.json", "policy.onnx"):  # shipped files are readable by everyone
        assert (folder / name).stat().st_mode & 0o777 == 0o644
    robot = load_robot("cartpole")
    interface = task_interface("CartpoleSwingup-v0", robot)
    assert card["task"] == "CartpoleSwingup-v0" and card["name"] == "ppo"
    assert card["robot"]["name"] == "cartpole"
    assert card["robot"]["joint_order"] == ["slider", "hinge"]
    assert card["robot"]["joints"][0]["position_limits"] == [-0.8, 0.8]
    assert card["robot"]["joints"][0]["units"] == {"position": "m", "velocity": "m/s", "effort": "N"}
    assert card["robot"]["control_hz"] == 50 and card["control"]["dt"] == pytest.approx(0.02)
    layout = card["observation"]["layout"]
    assert [f["name"] for f in layout] == [f.name for f in interface.layout]
    assert [f["unit"] for f in layout] == ["m", "1", "1", "m/s", "rad/s", "1"]
    assert [f["start"] for f in layout] == [0, 1, 2, 3, 4, 5]
    action = card["action"]
    assert action["offset"] == [0.0] and action["scale"] == [20.0]
    assert action["to_command"] == "command = offset + scale * clip(action, -1, 1)"
    assert action["actuators"][0]["unit"] == "N" and action["actuators"][0]["type"] == "force"
    norm = card["normalization"]
    np.testing.assert_allclose(norm["mean"], actor.normalizer.mean.numpy())
    np.testing.assert_allclose(norm["var"], actor.normalizer.var.numpy())
    assert norm["clip"] == 10.0 and norm["inside_graph"] is True
    training = card["training"]
    assert training["command"] == META["command"] and training["seed"] == 11 and training["algo"] == "ppo"
    assert "git_commit" in training and "git_commit" in card["export"]
    assert card["evaluation"] == {"results": {"mujoco": {"mean_return": 1.0}}}
    assert card["reproduce"] == [META["command"], "x"]


@pytest.mark.parametrize("which", ["ppo", "sac"])
def test_card_hash_and_opset_describe_the_file(exported, which):
    _, folder, card = exported[which]
    data = (folder / "policy.onnx").read_bytes()
    assert card["onnx"]["sha256"] == hashlib.sha256(data).hexdigest()
    model = onnx.load_from_string(data)
    onnx.checker.check_model(model)
    official = {imp.domain: imp.version for imp in model.opset_import}
    assert onnx_opsets(data) == official  # our dependency-free reader agrees with the onnx package
    assert card["onnx"]["opset"] == official[""]
    assert [i.name for i in model.graph.input] == ["obs"] and [o.name for o in model.graph.output] == ["action"]


def test_opset_can_be_chosen(tmp_path):
    card = export_actor(ppo_actor(6, 1), META, tmp_path / "p", opset=18, parity_samples=10)
    assert card["onnx"]["opset"] == 18 == onnx_opsets((tmp_path / "p" / "policy.onnx").read_bytes())[""]


def test_evaluate_fn_runs_the_finished_folder(tmp_path):
    def evaluate_fn(folder):
        policy = load_policy_folder(folder)  # the hash and opset check pass: the folder is complete
        return {"results": {"mujoco": {"mean_return": float(policy(np.zeros(6, np.float32))[0])}}}

    actor = ppo_actor(6, 1)
    card = export_actor(actor, META, tmp_path / "p", evaluate_fn=evaluate_fn, parity_samples=10)
    with torch.no_grad():
        expected = float(actor(torch.zeros(1, 6))[0, 0])
    assert card["evaluation"]["results"]["mujoco"]["mean_return"] == pytest.approx(expected, abs=1e-6)
    assert json.loads((tmp_path / "p" / "policy.json").read_text()) == card


def test_refuses_an_actor_of_the_wrong_shape(tmp_path):
    with pytest.raises(PolicyContractError, match=r"maps 1 x 6 observations to shape \(1, 2\).*needs \(1, 1\)"):
        export_actor(ppo_actor(6, 2), META, tmp_path / "p")
    with pytest.raises(PolicyContractError, match="field 'task' is 'Pendulum-v1'"):
        export_actor(ppo_actor(6, 1), {**META, "task": "Pendulum-v1"}, tmp_path / "p")


def test_failed_parity_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(export_module, "PARITY_TOLERANCE", -1.0)
    out = tmp_path / "p"
    with pytest.raises(PolicyContractError, match="ONNX export disagrees with the torch actor.*nothing was written"):
        export_actor(ppo_actor(6, 1), META, out, parity_samples=10)
    assert list(Path(out).iterdir()) == []
