"""Tasks by kind of robot: Reach for any fixed-base arm, Walk for any legged robot, the old ids as aliases.

Why these tests: a task written for one robot (its home pose, goal box, joint names, command ranges
hard-coded) cannot train the next robot without Python; a task by kind must run on a robot it has never
seen (here: the iiwa's URDF under another name with its joints listed in another order, the Franka Panda
of pybullet_data, an A1 made taller and heavier), refuse a robot of another kind saying why, derive
what it needs from the robot (a reachable goal box, size-scaled commands), and leave the shipped ids
(IiwaReach-v0, A1Walk-v0, the cart-pole's) episode-for-episode what they were, since shipped policies
and their cards name them.
"""

from __future__ import annotations

import ast
import math
import re
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml
from gymnasium.utils.env_checker import check_env

import sim
from sim.errors import ConfigError
from sim.kinematics import SerialChainFK
from sim.robot import ROBOTS_DIR, available_robots, load_robot
from sim.tasks import reach, walk
from sim.tasks.env import RobotTaskEnv
from sim.tasks.registry import ALIASES, bind_task, tasks_for
from sim.tasks.spec import TaskRobotError
from sim.vector import RobotVectorEnv

REPO = Path(__file__).resolve().parents[1]
IIWA_JOINTS = [f"lbr_iiwa_joint_{i}" for i in range(1, 8)]
GAINS = {1: (300.0, 20), 2: (300.0, 20), 3: (200.0, 10), 4: (200.0, 10), 5: (60.0, 3), 6: (60.0, 2.5), 7: (25.0, 0.6)}
ORDER = [7, 1, 2, 3, 4, 5, 6]  # the other arm lists the iiwa's joints starting from the flange


def _write_arm(folder: Path, reach_block: dict | None = None) -> Path:
    """A robot folder the project never saw: the iiwa's URDF named 'arm7', joints in another order."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "name": "arm7", "description": "the iiwa under another name", "control_hz": 50, "physics_dt": 0.001,
        "urdf": {"package": "pybullet_data", "path": "kuka_iiwa/model.urdf"}, "integrator": "implicit",
        "end_effector": "lbr_iiwa_link_7",
        "joints": [{"name": f"lbr_iiwa_joint_{i}", "type": "revolute"} for i in ORDER],
        "actuators": [{"name": f"a{i}", "joint": f"lbr_iiwa_joint_{i}", "type": "position", "kp": GAINS[i][0],
                       "kd": GAINS[i][1]} for i in ORDER],
    }
    if reach_block is not None:
        data["reach"] = reach_block
    (folder / "robot.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder / "robot.yaml"


def _write_panda(folder: Path) -> Path:
    """The Franka Panda from pybullet_data (package:// meshes, fingers not listed: held), no reach block."""
    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "name": "franka", "control_hz": 50, "physics_dt": 0.002, "end_effector": "panda_hand",
        "urdf": {"package": "pybullet_data", "path": "franka_panda/panda.urdf"},
        "joints": [{"name": f"panda_joint{i}"} for i in range(1, 8)],
        "actuators": [{"name": f"j{i}", "joint": f"panda_joint{i}", "type": "position", "kp": 100.0, "kd": 5.0}
                      for i in range(1, 8)],
    }
    (folder / "robot.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder / "robot.yaml"


def _scaled_a1(folder: Path, height: float, walk_block: dict | None = None) -> Path:
    """A copy of the A1's robot.yaml (and DR configs) standing at another height (same URDF: the same mass)."""
    shutil.copytree(ROBOTS_DIR / "a1" / "randomization", folder / "randomization")
    data = yaml.safe_load((ROBOTS_DIR / "a1" / "robot.yaml").read_text())
    data["name"], data["base"]["height"] = "tall_a1", height
    if walk_block is not None:
        data["walk"] = walk_block
    (folder / "robot.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder / "robot.yaml"


# -- Reach on any arm ---------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["mujoco", "pybullet"])
def test_reach_runs_on_an_arm_it_never_saw(tmp_path, engine):
    path = _write_arm(tmp_path / "arm7")
    env = gym.make("robot_rl/Reach-v0", robot=str(path), engine=engine, randomization=None)
    check_env(env.unwrapped, skip_render_check=True)
    u = env.unwrapped
    assert u.robot.name == "arm7" and u.interface.robot == "arm7" and u.task_id == "Reach-v0"
    # Actions map to actuators in the robot's own order: action 0 is the middle of each joint's range.
    lo, hi = zip(*(u.robot.joint(a.joint).position_limits for a in u.robot.actuators), strict=True)
    np.testing.assert_allclose(u.interface.action_offset, (np.array(lo) + np.array(hi)) / 2)
    obs, _ = env.reset(seed=1)
    q = np.ravel(u.state().q)
    np.testing.assert_allclose(q, u.logic.home, atol=1e-9)  # starts at the derived home pose
    ee = SerialChainFK(u.robot.urdf, u.robot.joint_names, "lbr_iiwa_link_7").position(q)
    np.testing.assert_allclose(obs[21:24], u.command, atol=1e-6)  # goal, then the end effector
    np.testing.assert_allclose(obs[24:27], ee, atol=1e-5)
    assert np.all(u.command >= u.logic.goal_low) and np.all(u.command <= u.logic.goal_high)
    env.close()


def test_reach_is_the_same_task_on_the_same_arm_in_another_joint_order(tmp_path):
    """arm7 with the iiwa's reach: block and permuted actions steps exactly as IiwaReach-v0 does."""
    iiwa = load_robot("iiwa")
    home = dict(zip(IIWA_JOINTS, iiwa.reach.home, strict=True))
    block = {"home": home, "goal_low": list(iiwa.reach.goal_low), "goal_high": list(iiwa.reach.goal_high)}
    arm = RobotTaskEnv("Reach-v0", robot=str(_write_arm(tmp_path / "arm7", block)))
    ref = RobotTaskEnv("IiwaReach-v0")
    perm = [i - 1 for i in ORDER]  # arm7's joint k is the iiwa's joint perm[k]
    o_arm, _ = arm.reset(seed=5)
    o_ref, _ = ref.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(25):
        a = rng.uniform(-1, 1, 7)
        o_ref, r_ref, *_ = ref.step(a)
        o_arm, r_arm, *_ = arm.step(a[perm])
        assert r_arm == pytest.approx(r_ref, rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(o_arm[:7], o_ref[:7][perm], atol=1e-9)  # joint positions, permuted
        np.testing.assert_allclose(o_arm[21:], o_ref[21:], atol=1e-9)  # goal, end effector, error
    arm.close()
    ref.close()


def test_tasks_refuse_a_robot_of_another_kind(tmp_path):
    with pytest.raises(TaskRobotError, match=r"needs a fixed-base arm.*robot 'cartpole'.*names no end_effector"):
        gym.make("robot_rl/Reach-v0", robot="cartpole")
    with pytest.raises(TaskRobotError, match=r"robot 'a1'.*has a floating base"):
        RobotTaskEnv("Reach-v0", robot="a1")
    with pytest.raises(TaskRobotError, match=r"needs a legged robot.*robot 'iiwa'.*no floating base"):
        RobotVectorEnv("Walk-v0", 2, robot="iiwa")
    with pytest.raises(TaskRobotError, match=r"needs a cart-pole.*robot 'iiwa'"):
        RobotTaskEnv("PoleSwingup-v0", robot="iiwa")
    # A task by kind has no default robot: the error names the shipped robots of its kind and the alias.
    with pytest.raises(TaskRobotError,
                       match=r"needs the robot.*shipped robots of its kind: [\w, ]*\biiwa\b[\w, ]*;.*IiwaReach-v0"):
        gym.make("robot_rl/Reach-v0")
    # An alias is its task on its own robot only.
    with pytest.raises(TaskRobotError, match=r"'IiwaReach-v0' is Reach-v0 on robot 'iiwa'; for robot 'arm7'.*use "):
        RobotTaskEnv("IiwaReach-v0", robot=str(_write_arm(tmp_path / "arm7")))
    assert tasks_for(load_robot("iiwa")) == ["IiwaReach-v0", "Reach-v0"]
    assert tasks_for(load_robot("cartpole")) == ["CartpoleBalance-v0", "CartpoleSwingup-v0", "PoleBalance-v0",
                                                 "PoleSwingup-v0"]


@pytest.mark.parametrize("which", ["arm7", "franka"])
def test_derived_goal_region_is_reachable_and_home_is_not_singular(tmp_path, which):
    """Every goal drawn from the derived box has a joint configuration within the policy's target range
    that puts the end effector on it (checked by forward kinematics), and home is a bent, well-conditioned
    pose with the end effector at the box's centre."""
    robot = load_robot(_write_arm(tmp_path / "a") if which == "arm7" else _write_panda(tmp_path / "p"))
    spec, _ = bind_task("Reach-v0", robot)
    home, low, high = (np.array(spec.config[k]) for k in ("home", "goal_low", "goal_high"))
    assert np.all(high - low > 0.1)  # a box worth reaching across: at least 10 cm on every axis
    lo, hi = reach.target_range(robot)
    fk = SerialChainFK(robot.urdf, robot.joint_names, robot.end_effector)
    rng = np.random.default_rng(7)
    goals = rng.uniform(low, high, (20, 3))
    samples = rng.uniform(lo, hi, (20000, len(lo)))
    points = fk.positions(samples)
    nearest = np.argmin(((points[None] - goals[:, None]) ** 2).sum(axis=2), axis=1)
    assert np.linalg.norm(points[nearest] - goals, axis=1).max() < 0.06  # the sampled workspace surrounds them
    q, _ = reach.solve_ik(fk, samples[nearest], goals, lo, hi)
    assert np.all((q >= lo - 1e-12) & (q <= hi + 1e-12))
    assert np.linalg.norm(fk.positions(q) - goals, axis=1).max() < 0.003  # the pose reaches the goal: within 3 mm
    assert np.all((home >= lo) & (home <= hi))
    assert np.linalg.norm(fk.position(home) - (low + high) / 2) < 0.01
    _, jac = reach._jacobian(fk, home[None])
    assert np.linalg.svd(jac[0], compute_uv=False).min() > 0.1  # m/rad: no direction the arm cannot move in


def test_reach_block_overrides_what_is_derived(tmp_path):
    path = _write_arm(tmp_path / "arm7", {"goal_low": [0.4, -0.1, 0.5], "goal_high": [0.5, 0.1, 0.6],
                                          "success_distance": 0.03})
    spec, robot = bind_task("Reach-v0", str(path))
    assert spec.config["goal_low"] == (0.4, -0.1, 0.5) and spec.config["success_distance"] == 0.03
    assert spec.config["home"] == reach.derive_workspace(robot)[0]  # home left out: derived
    for block, field in (({"goal_low": [0.4, 0.0, 0.5]}, "reach.goal_low"),
                         ({"goal_low": [0.4, 0.1, 0.5], "goal_high": [0.5, 0.0, 0.6]}, "reach.goal_high"),
                         ({"home": {"lbr_iiwa_joint_9": 0.0}}, "reach.home.lbr_iiwa_joint_9"),
                         ({"home": {"lbr_iiwa_joint_2": 3.0}}, "reach.home.lbr_iiwa_joint_2"),
                         ({"succes_distance": 0.02}, "reach.succes_distance")):
        with pytest.raises(ConfigError, match=re.escape(f"field '{field}'")):
            load_robot(_write_arm(tmp_path / "bad", block))


# -- Walk on any legged robot -------------------------------------------------------------------------

def test_walk_defaults_are_the_a1s_and_scale_with_height(tmp_path):
    a1 = load_robot("a1")
    assert walk.scale_factors(a1) == (1.0, 1.0)  # the reference robot: every factor exactly 1
    spec, _ = bind_task("A1Walk-v0")
    assert spec.config == walk.SPEC.config and spec.reward == walk.SPEC.reward and spec.episode_steps == 1000
    tall, _ = bind_task("Walk-v0", str(_scaled_a1(tmp_path / "tall", 0.48)))  # 1.6 x the A1's height, same mass
    h = 1.6
    assert tall.config["lin_vel_x"] == pytest.approx((-0.6 * math.sqrt(h), 1.0 * math.sqrt(h)))
    assert tall.config["lin_vel_y"] == pytest.approx((-0.4 * math.sqrt(h), 0.4 * math.sqrt(h)))
    assert tall.config["yaw_rate"] == pytest.approx((-1.0 / math.sqrt(h), 1.0 / math.sqrt(h)))
    assert tall.config["tracking_sigma"] == pytest.approx(0.25 * h)
    assert tall.config["tracking_sigma_yaw"] == pytest.approx(0.25 / h)
    assert tall.config["success_error"] == pytest.approx(0.25 * math.sqrt(h))
    assert tall.config["air_time_max"] == pytest.approx(0.5 * math.sqrt(h))
    assert tall.reward["torques"] == pytest.approx(-2e-4 / h**2)  # torques scale as m g h
    assert tall.reward["tracking_lin_vel"] == 1.0 and tall.config["max_tilt_deg"] == 60.0  # dimensionless: kept
    env = RobotTaskEnv("Walk-v0", robot=str(tmp_path / "tall" / "robot.yaml"))
    env.reset(seed=0)
    lo, hi = np.array(tall.config["lin_vel_x"]), np.array(tall.config["yaw_rate"])
    for seed in range(20):  # commands come from the scaled ranges
        env.reset(seed=seed)
        cmd = env.command
        assert lo[0] <= cmd[0] <= lo[1] and hi[0] <= cmd[2] <= hi[1]
    env.close()


def test_walk_block_overrides_and_checks_its_terms(tmp_path):
    path = _scaled_a1(tmp_path / "w", 0.30, {"lin_vel_x": [0.0, 0.5], "reward": {"torques": -1e-4}})
    spec, _ = bind_task("Walk-v0", str(path))
    assert spec.config["lin_vel_x"] == (0.0, 0.5) and spec.reward["torques"] == -1e-4
    with pytest.raises(ConfigError, match=r"field 'walk.reward.torque'.*not a reward term"):
        bind_task("Walk-v0", str(_scaled_a1(tmp_path / "x", 0.30, {"reward": {"torque": -1e-4}})))
    with pytest.raises(ConfigError, match=r"field 'walk.max_tilt_deg'"):
        load_robot(_scaled_a1(tmp_path / "y", 0.30, {"max_tilt_deg": 120}))
    arm = _write_arm(tmp_path / "z")
    arm.write_text(arm.read_text() + "walk: {lin_vel_x: [0.0, 1.0]}\n")
    with pytest.raises(ConfigError, match=r"field 'walk'.*only a legged robot"):
        load_robot(arm)


def test_walk_check_env_on_a_scaled_robot(tmp_path):
    env = gym.make("robot_rl/Walk-v0", robot=str(_scaled_a1(tmp_path / "tall", 0.36)), randomization="default")
    check_env(env.unwrapped, skip_render_check=True)
    assert env.unwrapped.robot.name == "tall_a1" and env.observation_space.shape == (45,)
    env.close()


# -- the aliases: the old ids, unchanged ----------------------------------------------------------------

@pytest.mark.parametrize("alias", list(ALIASES))
def test_alias_equals_its_task_on_its_robot(alias):
    """gymnasium.make("robot_rl/Reach-v0", robot="iiwa") is IiwaReach-v0, step for step (DR on)."""
    task, robot = ALIASES[alias]
    steps = 20 if robot == "a1" else 60
    envs = [gym.make(f"robot_rl/{alias}", randomization="default"),
            gym.make(f"robot_rl/{task}", robot=robot, randomization="default")]
    outs = []
    for env in envs:
        rng = np.random.default_rng(3)
        obs, info = env.reset(seed=11)
        trace = [obs, info["privileged"]]
        for _ in range(steps):
            obs, r, term, trunc, _ = env.step(rng.uniform(-1, 1, env.action_space.shape))
            trace += [obs, np.array([r, term, trunc])]
            if term or trunc:
                trace.append(env.reset()[0])
        outs.append(trace)
        env.close()
    assert all(np.array_equal(a, b) for a, b in zip(*outs, strict=True))


def test_vector_env_takes_the_robot():
    a = RobotVectorEnv("Reach-v0", 4, seed=2, randomization="default", robot="iiwa")
    b = RobotVectorEnv("IiwaReach-v0", 4, seed=2, randomization="default")
    oa, _ = a.reset(seed=2)
    ob, _ = b.reset(seed=2)
    assert np.array_equal(oa, ob)
    actions = np.random.default_rng(0).uniform(-1, 1, (4, 7))
    assert np.array_equal(a.step(actions)[0], b.step(actions)[0])
    a.close()
    b.close()


# Measured on main before tasks became tasks by kind (commit 7cd0bb7, same protocol): A1Walk-v0 must give
# the same rewards and observations through Walk-v0's code (the cart-pole and iiwa goldens are
# tests/test_sim_tasks.py's).
A1_GOLDEN = {
    "mujoco": (-43.01743764241743, 847.6677856445312),
    "pybullet": (-55.385638444253395, 881.1844482421875),
    "vec": (-108.39834710708634, 2235.11181640625),
}


@pytest.mark.parametrize("engine", list(A1_GOLDEN))
def test_a1walk_episodes_unchanged(engine):
    if engine == "vec":
        rng = np.random.default_rng(1)
        vec = RobotVectorEnv("A1Walk-v0", 4, seed=4, randomization="default")
        vec.reset(seed=4)
        total, obs_sum = 0.0, 0.0
        for _ in range(40):
            o, r, *_ = vec.step(rng.uniform(-1, 1, (4, 12)))
            total, obs_sum = total + r.sum(), obs_sum + np.abs(o).sum()
        vec.close()
    else:
        rng = np.random.default_rng(0)
        env = RobotTaskEnv("A1Walk-v0", engine=engine, randomization="default")
        o, _ = env.reset(seed=3)
        rewards, obs = [], [o]
        for _ in range(60):
            o, r, term, trunc, _ = env.step(rng.uniform(-1, 1, 12))
            rewards.append(r)
            obs.append(o)
            if term or trunc:
                o, _ = env.reset()
                obs.append(o)
        env.close()
        total, obs_sum = float(np.sum(rewards)), float(np.abs(np.array(obs)).sum())
    assert (total, obs_sum) == pytest.approx(A1_GOLDEN[engine], rel=1e-9)


def test_shipped_policy_cards_name_tasks_that_still_resolve():
    from robot_rl.runtime.card import check_card_against_robot, read_card

    for card_path in sorted((REPO / "policies").glob("*/policy.json")):
        card, _, _ = read_card(card_path.parent)
        robot = load_robot(card["robot"]["name"])
        check_card_against_robot(card, robot, str(card_path))  # raises if the contract drifted


# -- policies and commands take the robot ---------------------------------------------------------------

def test_a_reach_policy_for_one_arm_refuses_another(tmp_path):
    torch = pytest.importorskip("torch")
    from robot_rl.errors import PolicyContractError
    from robot_rl.export import export_actor
    from robot_rl.runtime import PolicyRunner

    path = _write_arm(tmp_path / "arm7")
    actor = torch.nn.Sequential(torch.nn.Linear(30, 7), torch.nn.Tanh())
    card = export_actor(actor, {"task": "Reach-v0", "robot": str(path)}, tmp_path / "policy", parity_samples=10)
    assert card["task"] == "Reach-v0" and card["robot"]["name"] == "arm7"
    runner = PolicyRunner(tmp_path / "policy", robot=str(path))
    env = RobotTaskEnv("Reach-v0", robot=str(path))
    obs, _ = env.reset(seed=0)
    q, qd = env.engine.joint_state()
    assert np.array_equal(runner.interface.build(q, qd, np.zeros(7), env.command), obs)
    with pytest.raises(PolicyContractError, match=r"trained for robot 'arm7', but is asked to drive robot 'iiwa'"):
        PolicyRunner(tmp_path / "policy", robot="iiwa")
    env.close()


def test_train_and_eval_take_the_robot(tmp_path, capsys):
    pytest.importorskip("torch")
    from robot_rl.cli import main

    path = _write_arm(tmp_path / "arm7")
    tiny = ["--set", "num_envs=2", "--set", "num_steps=16", "--set", "num_minibatches=2", "--set", "update_epochs=1",
            "--set", "hidden=[8]", "--eval-every", "0", "--eval-episodes", "1", "--no-progress"]
    assert main(["train", "--task", "Reach", "--steps", "32", *tiny, "--out", str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err
    assert "task 'Reach-v0'" in err and "shipped robots of its kind: iiwa" in err and "Traceback" not in err
    assert not (tmp_path / "nothing").exists()
    run = tmp_path / "run"
    argv = ["train", "--task", "Reach", "--robot", str(path), "--randomize", "none", "--steps", "32", *tiny]
    assert main([*argv, "--out", str(run)]) == 0
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["env_id"] == "robot_rl/Reach-v0" and config["robot"] == str(path.resolve())
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "1", "--json"]) == 0
    assert '"robot": "' + str(path.resolve()) + '"' in capsys.readouterr().out
    assert main(["eval", str(run), "--task", "IiwaReach-v0", "--episodes", "1"]) == 1
    assert "of robot 'arm7'; task 'IiwaReach-v0' drives robot 'iiwa'" in capsys.readouterr().err


# -- no robot names in the tasks or the episode core ----------------------------------------------------

ROBOT_NAMES = frozenset(available_robots()) | {"panda", "laikago", "cartpole", "iiwa", "a1"}
SCANNED = sorted((REPO / "sim" / "tasks").glob("*.py")) + [REPO / "sim" / "core.py"] \
    + sorted((REPO / "robot_rl").rglob("*.py"))
# Files that still name a robot in code, each with why and until when. Nothing else may be added here.
NAME_EXEMPT: dict[str, str] = {}
# Documentation, not code: a docstring, a comment, argparse's texts (a `help=`, `description=`, `epilog=` or
# `usage=` argument, a module's `HELP` / `EPILOG` / `DESCRIPTION` / `USAGE` string) show a user an example
# robot; a default, a condition, a table or an error message choosing one is code.
DOC_KEYWORDS = frozenset({"help", "description", "epilog", "usage"})
DOC_NAMES = frozenset({"HELP", "EPILOG", "DESCRIPTION", "USAGE"})


def _words(text: str) -> list[str]:
    """Lower-case words of an identifier or string: split at non-alphanumerics and camel case."""
    return [w.lower() for w in re.findall(r"[A-Z]+[a-z0-9]*|[a-z0-9]+", text)]


def robot_names_in_code(source: str) -> list[tuple[int, str]]:
    """(line, name) of each shipped robot's name in code: identifiers, attributes, imports and string
    constants; docstrings, comments and argparse's texts are documentation (DOC_KEYWORDS, DOC_NAMES), and
    `ALIASES = {...}` is the one alias table."""
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            skip.add(id(body[0].value))  # a docstring
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            if "ALIASES" in names or (names & DOC_NAMES and node in tree.body):
                skip.update(id(n) for n in ast.walk(node.value))
        if isinstance(node, ast.keyword) and node.arg in DOC_KEYWORDS:
            skip.update(id(n) for n in ast.walk(node.value))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        texts = []
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            texts.append(node.value)
        elif isinstance(node, ast.Name):
            texts.append(node.id)
        elif isinstance(node, ast.Attribute):
            texts.append(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            texts.append(node.name)
        elif isinstance(node, ast.arg):
            texts.append(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            texts += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            texts += [a.name for a in node.names] + [a.asname or "" for a in node.names]
        found += [(getattr(node, "lineno", 0), w) for t in texts for w in _words(t) if w in ROBOT_NAMES]
    return found


def test_the_name_check_finds_a_robot_name():
    planted = ('"""Docstring naming the iiwa is fine."""\nHOME = {"robot": "iiwa"}  # a comment about the a1 too\n'
               'def panda_home(): return A1_QD_SCALE + CartpoleSwingup\n'
               'ALIASES = {"IiwaReach-v0": ("Reach-v0", "iiwa")}\n'
               'EPILOG = "robot-rl demo --robot laikago"\n'
               'p.add_argument("--robot", default="panda", help=f"e.g. {X} or iiwa")\n'
               'raise SystemExit("--task needs a robot, e.g. a1")\n'
               'def f():\n    HELP = "a local, not a module\'s text: laikago"\n')
    assert sorted(robot_names_in_code(planted)) == [(2, "iiwa"), (3, "a1"), (3, "cartpole"), (3, "panda"),
                                                     (6, "panda"), (7, "a1"), (9, "laikago")]


@pytest.mark.parametrize("path", [p for p in SCANNED if p.relative_to(REPO).as_posix() not in NAME_EXEMPT],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_no_robot_name_in_the_tasks_the_episode_core_or_robot_rl(path):
    """Adding a robot touches only its folder: a task, the episode core, a command or a demo naming one is a
    special case (a default robot comes from the alias table, a robot's facts from its folder)."""
    found = robot_names_in_code(path.read_text())
    assert not found, f"{path.relative_to(REPO)}: robot names in code (line, name): {found}; code is written " \
                      "for a kind of robot, only sim/tasks/registry.py's ALIASES binds an id to one, and a robot's " \
                      "own facts live in its folder (sim/robots/<robot>/, e.g. demo.yaml)"


def test_name_exemptions_are_still_needed():
    """An exempted file that no longer names a robot must leave NAME_EXEMPT, so it cannot come back unnoticed."""
    stale = [f for f in NAME_EXEMPT if not (REPO / f).is_file() or not robot_names_in_code((REPO / f).read_text())]
    assert not stale, f"these files name no robot any more: remove them from NAME_EXEMPT: {stale}"


def test_task_modules_import_no_simulator():
    import subprocess
    import sys

    code = ("import sys; import sim.tasks.registry, sim.observations; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'mujoco', 'pybullet', 'torch'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert set(sim.GENERIC_TASKS) == {"Reach-v0", "Walk-v0", "PoleBalance-v0", "PoleSwingup-v0"}
