"""PolicyRunner and Controller: the deploy loop sees the simulator's observation, and refuses foreign policies.

Policies here are small random actors (same module the trainer exports, normalizer stats set to
non-trivial values) exported with `robot_rl.export.export_actor`, once per module.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from robot_rl.algos.modules import GaussianActorCritic
from robot_rl.envs import make_env
from robot_rl.errors import PolicyContractError
from robot_rl.export import export_actor
from robot_rl.runtime import Controller, OnnxPolicy, PolicyRunner, SafetyFilter, SafetyState, load_policy_folder
from sim.robot import load_robot

CARTPOLE_YAML = Path(load_robot("cartpole").yaml_path)


def random_actor(obs_dim: int, act_dim: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = GaussianActorCritic(obs_dim, act_dim, (32, 32), "tanh", True, 0.0)
    for layer in model.actor:  # larger last-layer weights than PPO's init, so actions are not all ~0
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.normal_(layer.weight, std=0.5)
    model.actor_normalizer.mean.normal_(0.0, 0.5)
    model.actor_normalizer.var.uniform_(0.5, 2.0)
    return model.deterministic().eval()


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("policies")
    out = {}
    for task, dims in (("CartpoleSwingup-v0", (6, 1)), ("IiwaReach-v0", (30, 7))):
        meta = {"task": task, "algo": "ppo", "seed": 7, "command": f"robot-rl train --task {task}"}
        export_actor(random_actor(*dims, seed=1), meta, root / task, parity_samples=100)
        out[task] = root / task
    return out


def copy_folder(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def edit_card(folder: Path, edit) -> None:
    path = folder / "policy.json"
    card = json.loads(path.read_text())
    edit(card)
    path.write_text(json.dumps(card))


def robot_variant(tmp_path: Path, transform) -> Path:
    """A copy of cartpole's robot.yaml, changed by `transform(text) -> text`, pointing at the same URDF."""
    text = CARTPOLE_YAML.read_text().replace("urdf: robot.urdf", f"urdf: {CARTPOLE_YAML.parent / 'robot.urdf'}")
    path = tmp_path / "robot.yaml"
    path.write_text(transform(text))
    return path


# ------------------------------------------------------------------------------------ same observation as sim


@pytest.mark.parametrize("task", ["CartpoleSwingup-v0", "IiwaReach-v0"])
def test_runner_observation_is_the_simulators_observation(folders, task):
    """Drive the MuJoCo env with the runner: at every step, the runner's observation built from the
    engine's joint state is exactly the env's observation, and its command is the env's scaling."""
    runner = PolicyRunner(folders[task])
    env = make_env(task, engine="mujoco", randomization=None)
    sim_env = env.unwrapped
    obs, _ = env.reset(seed=3)
    runner.reset()
    for _ in range(25):
        q, qd = sim_env.engine.joint_state()
        goal = sim_env.command if runner.interface.command_size else None
        np.testing.assert_array_equal(runner.observation(q, qd, goal), obs)
        command = runner.step(q, qd, goal)
        np.testing.assert_array_equal(command, sim_env.interface.action_to_command(runner.last_action))
        obs, _, terminated, truncated, _ = env.step(runner.last_action.copy())
        if terminated or truncated:
            break
    env.close()


def test_runner_reset_clears_last_action(folders):
    runner = PolicyRunner(folders["CartpoleSwingup-v0"])
    q, qd = np.array([0.1, 3.0]), np.array([0.0, 0.5])
    first = runner.step(q, qd)
    runner.step(q, qd)
    runner.reset()
    np.testing.assert_array_equal(runner.last_action, 0.0)
    np.testing.assert_array_equal(runner.step(q, qd), first)


def test_onnx_policy_batched_and_single_agree(folders):
    policy = load_policy_folder(folders["IiwaReach-v0"])
    obs = np.random.default_rng(0).standard_normal((64, 30)).astype(np.float32)
    batched = policy(obs)
    single = np.stack([policy(o) for o in obs])
    np.testing.assert_allclose(batched, single, atol=1e-6)
    assert batched.shape == (64, 7) and np.all(np.abs(batched) <= 1.0)
    with pytest.raises(ValueError, match=r"takes \(30,\) or \(batch, 30\)"):
        policy(np.zeros((2, 29), np.float32))


def test_onnx_policy_from_file_needs_no_card(folders):
    policy = OnnxPolicy(folders["CartpoleSwingup-v0"] / "policy.onnx")
    assert (policy.obs_size, policy.act_size, policy.card) == (6, 1, None)


# ------------------------------------------------------------------------------------ refusals


def test_refuses_a_policy_for_another_robot(folders):
    with pytest.raises(PolicyContractError, match="trained for robot 'iiwa', but is asked to drive robot 'cartpole'"):
        PolicyRunner(folders["IiwaReach-v0"], robot="cartpole")


def test_refuses_another_joint_order(folders, tmp_path):
    def swap(text: str) -> str:
        slider = text[text.index("  - name: slider") : text.index("  - name: hinge")]
        hinge = text[text.index("  - name: hinge") : text.index("actuators:")]
        return text.replace(slider + hinge, hinge + slider)

    robot = robot_variant(tmp_path, swap)
    with pytest.raises(PolicyContractError, match="joint order differs at index 0: the policy expects 'slider'"):
        PolicyRunner(folders["CartpoleSwingup-v0"], robot=robot)


def test_refuses_changed_action_scaling(folders, tmp_path):
    # A robot.yaml limit that differs from the card is the limits contract's business (the action
    # mapping stays the card's; see test_limits_contract.py): a wider one is refused naming the flag.
    robot = robot_variant(tmp_path, lambda t: t.replace("    effort_limit: 20.0\n", "    effort_limit: 25.0\n"))
    with pytest.raises(PolicyContractError, match="actuator 'slider' effort_limit 25 N, wider than the 20 N"):
        PolicyRunner(folders["CartpoleSwingup-v0"], robot=robot)
    # A card whose action scaling contradicts its own limits is refused as before.
    folder = copy_folder(folders["CartpoleSwingup-v0"], tmp_path / "p")
    edit_card(folder, lambda c: c["action"].update(scale=[30.0]))
    with pytest.raises(PolicyContractError, match="action scale of actuator 'slider' is 30 in the card but 20"):
        PolicyRunner(folder)


def test_refuses_another_control_rate(folders, tmp_path):
    robot = robot_variant(tmp_path, lambda t: t.replace("control_hz: 50 ", "control_hz: 100 "))
    with pytest.raises(PolicyContractError, match="trained at control_hz 50.*says 100"):
        PolicyRunner(folders["CartpoleSwingup-v0"], robot=robot)


def test_refuses_another_observation_layout(folders, tmp_path):
    folder = copy_folder(folders["CartpoleSwingup-v0"], tmp_path / "p")
    edit_card(folder, lambda c: c["observation"]["layout"][3].update(unit="km/h"))
    with pytest.raises(PolicyContractError, match="observation field 3 differs.*unit 'km/h' vs 'm/s'"):
        PolicyRunner(folder)


def test_refuses_a_modified_onnx_file(folders, tmp_path):
    folder = copy_folder(folders["CartpoleSwingup-v0"], tmp_path / "p")
    data = bytearray((folder / "policy.onnx").read_bytes())
    data[-1] ^= 0xFF
    (folder / "policy.onnx").write_bytes(bytes(data))
    with pytest.raises(PolicyContractError, match="SHA-256 is .* but policy.json field 'onnx.sha256' says"):
        PolicyRunner(folder)


def test_refuses_a_card_with_the_wrong_opset(folders, tmp_path):
    folder = copy_folder(folders["CartpoleSwingup-v0"], tmp_path / "p")
    edit_card(folder, lambda c: c["onnx"].update(opset=11))
    with pytest.raises(
        PolicyContractError, match="imports ONNX opset 2\\d, but policy.json field 'onnx.opset' says 11"
    ):
        PolicyRunner(folder)


def test_refuses_a_card_whose_sizes_disagree_with_the_graph(folders, tmp_path):
    folder = copy_folder(folders["CartpoleSwingup-v0"], tmp_path / "p")
    edit_card(folder, lambda c: c["observation"].update(size=7))
    with pytest.raises(
        PolicyContractError, match="input 'obs' has 6 features, but policy.json field 'observation.size'"
    ):
        PolicyRunner(folder)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "policy.json").unlink(), "no model card"),
        (lambda f: (f / "policy.json").write_text("{not json"), "not valid JSON"),
        (lambda f: edit_card(f, lambda c: c.update(schema="other/9")), "field 'schema' is 'other/9'"),
        (lambda f: (f / "policy.onnx").unlink(), "the ONNX file it describes, .* is missing"),
    ],
)
def test_refuses_broken_folders(folders, tmp_path, damage, message):
    folder = copy_folder(folders["CartpoleSwingup-v0"], tmp_path / "p")
    damage(folder)
    with pytest.raises(PolicyContractError, match=message):
        PolicyRunner(folder)


# ------------------------------------------------------------------------------------ controller


def test_controller_is_runner_then_filter(folders):
    ctl = Controller(folders["IiwaReach-v0"])
    twin_runner = PolicyRunner(folders["IiwaReach-v0"])
    twin_filter = SafetyFilter(ctl.robot)
    goal = np.array([0.5, 0.0, 0.5])
    q = np.array([0.0, 0.6, 0.0, -1.2, 0.0, 0.9, 0.0])
    qd = np.zeros(7)
    idle = ctl.step(0.0, 0.0, q, qd, goal)  # inactive: the policy does not run, the arm is held
    assert idle.state is SafetyState.INACTIVE
    np.testing.assert_allclose(idle.values, q)
    twin_filter.step(0.0, 0.0, q, qd, np.zeros(7))
    assert ctl.activate(0.0, q) is twin_filter.activate(0.0, q) is SafetyState.ACTIVE
    for k in range(1, 30):
        t = 0.02 * k
        out = ctl.step(t, t, q, qd, goal)
        expected = twin_filter.step(t, t, q, qd, twin_runner.step(q, qd, goal))
        np.testing.assert_array_equal(out.values, expected.values)
        assert out.state is SafetyState.ACTIVE
        q = out.values  # a perfect position servo
    assert not np.allclose(q, [0.0, 0.6, 0.0, -1.2, 0.0, 0.9, 0.0])  # the policy did move the targets


def test_controller_faults_on_bad_state_and_needs_reset(folders):
    ctl = Controller(folders["CartpoleSwingup-v0"])
    ctl.activate(0.0, [0.0, math.pi])
    out = ctl.step(0.02, 0.02, [0.0, math.nan], [0.0, 0.0])
    assert out.state is SafetyState.FAULT and out.fault_reason == "NaN in position of joint 'hinge'"
    out = ctl.step(0.04, 0.04, [0.0, 0.0, 0.0], [0.0, 0.0])  # wrong length: still latched, never raises
    assert out.state is SafetyState.FAULT and out.values.tolist() == [0.0]
    assert ctl.activate(0.06, [0.0, math.pi]) is SafetyState.FAULT
    assert ctl.reset() is SafetyState.INACTIVE
    assert ctl.activate(0.08, [0.0, math.pi]) is SafetyState.ACTIVE
    np.testing.assert_array_equal(ctl.runner.last_action, 0.0)  # a fresh episode for the policy
