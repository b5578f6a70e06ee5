"""The full sim-to-real loop on embedded defaults: what `robot-rl demo` (and `make demo`) runs.

One orchestration for every robot; a `DemoRobot` says what differs (task, reality gap, what to
identify, training settings). `robot-rl demo` runs the cart-pole, `robot-rl demo --robot iiwa` the
7-DoF arm; `robot-rl demo --robot a1 --quick` the legged loop of robot_rl.legged_loop (shipped
policy, identification on a gantry).

1. train   PPO on the robot's task in MuJoCo under its default domain randomization
           (--quick: skip, use the shipped policy in policies/<folder>)
2. export  the actor to ONNX + model card (`robot-rl export`)
3. deploy  the policy node (`robot-rl deploy`) drives a PyBullet sim robot (`robot-rl sim-robot`)
           whose physics differ from the nominal model (the "reality gap", written to
           robot_params.yaml), two processes over real DDS on an isolated loopback domain, while
           the node records joint states and commands to a rosbag2 folder
4. sysid   an identification run on the same robot (`robot-rl excite --publish`: a multisine
           through the SafetyFilter, recorded to rosbag2), then identify the gap's parameters from
           that recording (`calibration.identify`, built on mujoco.sysid). Why not from the policy's
           own run: a balanced pole is open-loop unstable, so simulating a closed-loop recording
           open-loop diverges within a second and the fit learns nothing reliable, and a reach
           that settles quickly excites little; a multisine is stable and informative, which is
           how a lab calibrates too.
5. compare the policy's return in the training simulator, on the "robot", and in the calibrated
           simulator; the identified parameters against the sim robot's true ones
6. retrain (robots with `finetune_steps`, the iiwa) fine-tune the policy on the calibrated
           simulator (the fitted values as nominal, DR narrowed to the fit's intervals), export
           it, deploy it to the robot again, and compare success and final position error
           before and after
Everything lands in one output folder with plots (training curve, deployment trajectory, the
sysid overlay report) and a summary.json.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.errors import RobotRLError
from robot_rl.legged_loop import A1, LeggedDemo

REPO_ROOT = Path(__file__).resolve().parents[1]
# Watchdog of the demo's policy node and excitation (s), both run with --sim. The sim robot is
# lockstep: it waits for each command, so a late state cannot leave it running unattended. The
# default 5 periods (0.1 s) faulted deployments whenever a loaded 2-core machine stalled a process
# that long, and 1 s (a robot's maximum) still did at load 8-10 (a latched fault for the rest of
# the run: tests/test_demo_iiwa.py failed once that way).
LOCKSTEP_WATCHDOG_S = 10.0
POLICIES_DIR = REPO_ROOT / "policies"
CHECKPOINT_FILE = "checkpoint.pt"  # a shipped policy's training checkpoint, to fine-tune from


@dataclass(frozen=True)
class DemoRobot:
    """What the demo does differently per robot."""

    robot: str
    task: str
    policy_folder: str  # the shipped policy, under policies/
    reality_gap: dict[str, float]  # the sim robot's true physics (absolute values)
    fit_names: tuple[str, ...]  # what the identification fits
    train_settings: dict[str, Any]  # PPO settings of step 1
    train_steps: int
    eval_every: int
    export_eval_episodes: int  # per condition when exporting in the demo (0: skip, the robot scores it)
    excite_duration: float = 20.0
    finetune_steps: int | None = None  # step 6: fine-tune on the calibrated simulator (None: no step 6)
    quick_finetune_steps: int | None = None
    finetune_learning_rate: float = 1e-4  # lower than training: keep what transfers, adapt the rest
    # The identification run's sim robot ignores the task's time limit (`sim-robot --continuous`):
    # the reach resets the arm home every 2 s, which would cut a 20 s pose tour into 2 s pieces.
    continuous_identification: bool = False
    train_title: str = ""


# The "real" cart-pole: heavier pole, stiffer hinge, rougher rail, weaker motor and slower command
# path than the nominal model says. Hinge damping at 3x nominal lies outside the default DR range on
# purpose: calibration must find what randomization did not cover. The delay is a whole number of the
# 5 ms physics steps the sim robot quantizes it to (16 ms would act as 15 ms, and a correct fit of
# 15 ms would read as a 6% error).
CARTPOLE = DemoRobot(
    robot="cartpole",
    task="CartpoleSwingup-v0",
    policy_folder="cartpole_swingup",
    reality_gap={
        "pole.mass": 0.24,
        "hinge.damping": 0.006,
        "slider.frictionloss": 0.2,
        "slider.gain": 0.88,
        "action_delay": 0.015,
    },
    fit_names=("pole.mass", "hinge.damping", "slider.frictionloss", "slider.gain", "action_delay"),
    # PPO settings that solve the swing-up under DR in about 300k steps (~1 min on 2 cores).
    train_settings={
        "num_envs": 64,
        "num_steps": 64,
        "num_minibatches": 4,
        "update_epochs": 5,
        "hidden": [128, 128],
        "learning_rate": 0.001,
    },
    train_steps=600_000,
    eval_every=200_000,
    export_eval_episodes=5,
    # One continuous identification run (no reset at the 5 s time limit): a reset empties the sim
    # robot's command path, which the fit, replaying the log's commands in flight across it, cannot
    # know; a real robot has no such resets. The run resets only if the cart meets its rail stop.
    continuous_identification=True,
    train_title="PPO, CartpoleSwingup-v0, MuJoCo, default DR",
)

# The "real" iiwa, with the gap of issue 11 (the arm case of bench/sysid.py): links 3 and 5
# +30% / +41%, a 0.5 kg payload at the flange (link 7), shoulder and elbow damping x3 / x2.5,
# 1.0 / 0.8 / 0.5 N*m of geared-joint friction on joints 3, 5 and 7, and 20 ms of command
# latency. Nine parameters that really differ; the fit gets all nine.
IIWA = DemoRobot(
    robot="iiwa",
    task="IiwaReach-v0",
    policy_folder="iiwa_reach",
    reality_gap={
        "lbr_iiwa_link_3.mass": 3.9,
        "lbr_iiwa_link_5.mass": 2.4,
        "lbr_iiwa_link_7.mass": 0.8,
        "lbr_iiwa_joint_2.damping": 1.5,
        "lbr_iiwa_joint_4.damping": 1.25,
        "lbr_iiwa_joint_3.frictionloss": 1.0,
        "lbr_iiwa_joint_5.frictionloss": 0.8,
        "lbr_iiwa_joint_7.frictionloss": 0.5,
        "action_delay": 0.02,
    },
    fit_names=(
        "lbr_iiwa_link_3.mass",
        "lbr_iiwa_link_5.mass",
        "lbr_iiwa_link_7.mass",
        "lbr_iiwa_joint_2.damping",
        "lbr_iiwa_joint_4.damping",
        "lbr_iiwa_joint_3.frictionloss",
        "lbr_iiwa_joint_5.frictionloss",
        "lbr_iiwa_joint_7.frictionloss",
        "action_delay",
    ),
    # The shipped reach policy's settings (policies/iiwa_reach/policy.json, `reproduce`).
    train_settings={
        "num_envs": 32,
        "num_steps": 64,
        "update_epochs": 5,
        "learning_rate": 3e-4,
        "hidden": [128, 128],
        "init_log_std": -1.0,
    },
    # 5M steps: trained behind the SafetyFilter's rate limit under the full gap-class DR, the reach
    # from scratch reaches eval success 0.2 at 1.5M steps, 0.45-0.65 at 4-5M (10 min here, quiet).
    train_steps=5_000_000,
    eval_every=500_000,
    export_eval_episodes=0,
    finetune_steps=500_000,
    quick_finetune_steps=100_000,
    continuous_identification=True,
    train_title="PPO, IiwaReach-v0, MuJoCo, default DR",
)

# A legged robot's loop differs (no training inside the demo, identification on a gantry): robot_rl.legged_loop.
DEMOS: dict[str, DemoRobot | LeggedDemo] = {d.robot: d for d in (CARTPOLE, IIWA, A1)}

# The cart-pole's names, as before the demo knew other robots (tests and scripts import them).
TASK = CARTPOLE.task
REALITY_GAP = CARTPOLE.reality_gap
FIT_NAMES = list(CARTPOLE.fit_names)


def demo_robot(name: str) -> DemoRobot | LeggedDemo:
    if name not in DEMOS:
        raise RobotRLError(f"no demo for robot '{name}'; robots with a demo: {', '.join(DEMOS)}")
    return DEMOS[name]


@dataclass
class DemoConfig:
    out: Path
    quick: bool = False
    seed: int = 0
    train_steps: int | None = None  # None: the robot's default
    robot_episodes: int = 6
    eval_seed: int = 100  # episode i of every comparison is seeded eval_seed + i
    policy: Path | None = None  # use this policy folder instead of training / the shipped one
    progress: bool = True
    robot: str = "cartpole"
    finetune_steps: int | None = None  # None: the robot's default (quick or full)
    timings: dict[str, float] = field(default_factory=dict)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "robot_rl.cli", *args]


def _fresh(bag: Path) -> Path:
    """A bag folder path to record into: the recorder refuses to overwrite, a rerun replaces the old one."""
    if bag.exists():
        shutil.rmtree(bag)
    return bag


def _step(console, title: str):
    console.rule(f"[bold]{title}")
    return time.perf_counter()


def export_policy(run_dir: Path, policy_dir: Path, checkpoint: str, eval_episodes: int) -> Path:
    """`robot-rl export` of one checkpoint of a run into `policy_dir` (the demo's own: replaced on a rerun)."""
    proc = subprocess.run(_cli("export", str(run_dir), "--out", str(policy_dir), "--checkpoint", checkpoint,
                               "--eval-episodes", str(eval_episodes), "--force"), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RobotRLError(f"export of {run_dir} failed:\n{proc.stderr[-2000:]}")
    return policy_dir


def train_policy(cfg: DemoConfig, spec: DemoRobot, console) -> tuple[Path, Path]:
    """Train PPO in MuJoCo under DR; returns (run_dir, policy_dir)."""
    from robot_rl.train import RunConfig, command_line, train

    run_dir = cfg.out / "train"
    if run_dir.exists():  # an earlier demo's run (`robot-rl demo` refused a used --out unless --force)
        shutil.rmtree(run_dir)
    config = RunConfig(
        env_id=f"robot_rl/{spec.task}", algo="ppo", steps=cfg.train_steps or spec.train_steps, seed=cfg.seed,
        engine="mujoco", randomize="default", eval_every=spec.eval_every, eval_episodes=10,
        checkpoint_every=spec.eval_every, algo_config=dict(spec.train_settings), command=command_line(),
    )
    result = train(config, run_dir, progress=cfg.progress)
    console.print(f"trained {result.global_step} steps in {result.elapsed_s:.0f} s -> {run_dir}")
    checkpoint = "best.pt" if (run_dir / "checkpoints" / "best.pt").is_file() else "last.pt"
    policy_dir = export_policy(run_dir, cfg.out / "policy", checkpoint, spec.export_eval_episodes)
    shutil.copyfile(run_dir / "checkpoints" / checkpoint, policy_dir / CHECKPOINT_FILE)
    console.print(f"exported {checkpoint} -> {policy_dir}")
    return run_dir, policy_dir


def fine_tune(cfg: DemoConfig, spec: DemoRobot, init_checkpoint: Path, params_file: Path,
              randomization_file: Path, steps: int, console) -> tuple[Path, Path]:
    """Continue training a policy on the calibrated simulator; returns (run_dir, policy_dir).

    Starts from the checkpoint's networks, observation normalizer and return scale (not its
    optimizer or step count), with the same network settings and a lower learning rate, in MuJoCo
    with the fitted values as nominal physics and DR narrowed to the fit's intervals. Why fine-tune
    rather than train from scratch: the policy already reaches; what the calibrated simulator adds
    is the robot's own masses, friction and latency, which a short run can adapt to.
    """
    from robot_rl.train import RunConfig, Trainer, command_line
    from robot_rl.training.checkpoint import load_checkpoint

    settings = dict(load_checkpoint(init_checkpoint, expected_algo="ppo")["algo_config"])
    settings["learning_rate"] = spec.finetune_learning_rate
    run_dir = cfg.out / "finetune"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    every = max(steps // 3, 1)
    config = RunConfig(
        env_id=f"robot_rl/{spec.task}", algo="ppo", steps=steps, seed=cfg.seed + 1, engine="mujoco",
        randomize=str(randomization_file), params=str(params_file), eval_every=every, eval_episodes=10,
        checkpoint_every=every, algo_config=settings, command=command_line(), init_from=str(init_checkpoint),
    )
    trainer = Trainer(config, run_dir, progress=cfg.progress)
    result = trainer.run()
    console.print(f"fine-tuned {result.global_step} steps in {result.elapsed_s:.0f} s on the calibrated simulator "
                  f"-> {run_dir}")
    checkpoint = "best.pt" if (run_dir / "checkpoints" / "best.pt").is_file() else "last.pt"
    policy_dir = export_policy(run_dir, cfg.out / "policy_calibrated", checkpoint, 0)
    return run_dir, policy_dir


def deploy_episodes(cfg: DemoConfig, spec: DemoRobot, policy_dir: Path, engine: str, params_file: Path | None,
                    tag: str, record: bool, measure: bool = False) -> tuple[dict, Path | None]:
    """Policy node + sim robot in two processes over DDS for `robot_episodes` episodes.

    Returns the sim robot's evaluation JSON and, with `record`, the rosbag2 folder the node wrote.
    Every comparison in the demo goes through this same chain (node, SafetyFilter ramp included),
    so the returns differ only by the physics behind the robot interface (and the policy).
    `measure` (legged robots): the sim robot also reports falls and velocity tracking error, as an
    outside observer (robot_rl.legged_sim_robot).
    """
    from robot_rl.deploy import procs

    bag = _fresh(cfg.out / f"{tag}_bag") if record else None
    env = procs.dds_env(procs.pick_domain_id())
    node_log = cfg.out / f"{tag}_policy_node.log"
    node_args = ["-m", "robot_rl.cli", "deploy", "--policy", str(policy_dir), "--robot", spec.robot,
                 "--transport", "dds", "--activate", "--sim", "--watchdog", str(LOCKSTEP_WATCHDOG_S)]
    if bag is not None:
        node_args += ["--record", str(bag)]
    node = procs.spawn(node_args, env, node_log)
    robot_args = ["sim-robot", "--robot", spec.robot, "--engine", engine, "--task", spec.task, "--transport", "dds",
                  "--episodes", str(cfg.robot_episodes), "--seed", str(cfg.eval_seed), "--lockstep", "--json"]
    if params_file is not None:
        robot_args += ["--params", str(params_file)]
    command = [sys.executable, "-m", "robot_rl.legged_sim_robot", *robot_args[1:]] if measure else _cli(*robot_args)
    try:
        sim = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    finally:
        procs.stop(node)
    if sim.returncode != 0:
        raise RobotRLError(f"sim robot ({engine}) failed (policy node log: {node_log}):\n{sim.stderr[-2000:]}")
    lines = [ln for ln in sim.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RobotRLError(f"sim robot printed no JSON summary:\n{sim.stdout[-1000:]}\n{sim.stderr[-1000:]}")
    if bag is not None and not bag.exists():
        raise RobotRLError(f"the policy node recorded nothing; see {node_log}")
    return json.loads(lines[-1]), bag


def identification_run(cfg: DemoConfig, spec: DemoRobot, params_file: Path, console=None) -> Path:
    """`robot-rl excite --publish` against the sim robot over DDS; returns the recorded bag.

    Tried twice: a run that stops early (the excitation's watchdog, a DDS hiccup on a loaded
    machine) is repeated once, as a lab would; a second failure is an error.
    """
    from robot_rl.deploy import procs

    errors = []
    for attempt in (1, 2):
        bag = _fresh(cfg.out / "sysid_bag")
        env = procs.dds_env(procs.pick_domain_id())
        robot_log = cfg.out / "sim_robot_sysid.log"
        robot_args = ["-m", "robot_rl.cli", "sim-robot", "--robot", spec.robot, "--engine", "pybullet",
                      "--transport", "dds", "--params", str(params_file), "--lockstep"]
        if spec.continuous_identification:
            robot_args.append("--continuous")
        robot = procs.spawn(robot_args, env, robot_log)
        try:
            proc = subprocess.run(_cli("excite", "--robot", spec.robot, "--publish", "--transport", "dds",
                                       "--duration", str(spec.excite_duration), "--seed", str(cfg.seed),
                                       "--sim", "--watchdog", str(LOCKSTEP_WATCHDOG_S), "--record", str(bag)),
                                  env=env, capture_output=True, text=True, timeout=300)
        finally:
            procs.stop(robot)
        if proc.returncode == 0 and bag.exists():
            return bag
        errors.append(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}")
        if console is not None and attempt == 1:
            console.print(f"[yellow]identification run failed ({errors[-1]}); trying once more[/yellow]")
    raise RobotRLError(f"identification run failed twice (sim robot log: {robot_log}): {' / '.join(errors)}")


def identify_gap(spec: DemoRobot, bag: Path, out_dir: Path):
    """The one place the demo calls system identification (calibration's public API)."""
    from calibration import identify
    from sim.robot import load_robot

    # force: `robot-rl demo` has already refused a used --out unless --force (its calib/ is the demo's own)
    return identify(load_robot(spec.robot), bag, list(spec.fit_names), out_dir, engine="mujoco", force=True)


def plot_training(run_dir: Path, path: Path, title: str) -> Path | None:
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    pts = [(float(r["step"]), float(r["episode/return"]), float(r.get("episode/success_rate") or "nan"))
           for r in rows if r.get("episode/return")]
    if not pts:
        return None
    steps, returns, success = map(np.array, zip(*pts, strict=True))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(steps, returns, color="tab:blue", label="episode return")
    ax.set_xlabel("env steps")
    ax.set_ylabel("return", color="tab:blue")
    ax2 = ax.twinx()
    ax2.plot(steps, success, color="tab:green", label="success rate")
    ax2.set_ylabel("success rate", color="tab:green")
    ax2.set_ylim(-0.05, 1.05)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_deployment(bag: Path, path: Path, robot_name: str = "cartpole") -> Path:
    """The recorded deployment: for the cart-pole the pole angle, cart and force; for any other
    robot each joint's position and the commands sent to it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from calibration.load import load_log
    from sim.robot import load_robot

    robot = load_robot(robot_name)
    log = load_log(bag, robot)
    if robot_name == "cartpole":
        angle = np.degrees(np.arctan2(np.sin(log.q[:, 1]), np.cos(log.q[:, 1])))
        fig, axes = plt.subplots(3, 1, figsize=(8, 6), sharex=True)
        axes[0].plot(log.t, angle, lw=0.8)
        axes[0].axhspan(-12, 12, color="tab:green", alpha=0.15, label="success band (12 deg)")
        axes[0].set_ylabel("pole angle [deg]")
        axes[0].legend(loc="upper right", fontsize=8)
        axes[1].plot(log.t, log.q[:, 0], lw=0.8)
        axes[1].axhline(0.78, color="tab:red", ls="--", lw=0.8)
        axes[1].axhline(-0.78, color="tab:red", ls="--", lw=0.8)
        axes[1].set_ylabel("cart [m]")
        axes[2].step(log.command_t, log.command[:, 0], where="post", lw=0.8)
        axes[2].set_ylabel("force command [N]")
    else:
        fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
        for j, name in enumerate(robot.joint_names):
            axes[0].plot(log.t, log.q[:, j], lw=0.8, label=name.rsplit("_", 1)[-1])
            axes[1].step(log.command_t, log.command[:, j], where="post", lw=0.8)
        axes[0].set_ylabel("joint position [rad]")
        axes[0].legend(loc="upper right", fontsize=7, ncol=4, title="joint")
        axes[1].set_ylabel("command [rad or N*m]")
    axes[-1].set_xlabel("robot time [s]")
    for b in log.breaks:
        for ax in axes:
            ax.axvline(b, color="grey", lw=0.5)
    axes[0].set_title("deployment: policy node -> PyBullet sim robot with a reality gap, over DDS")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _policy_source(cfg: DemoConfig, spec: DemoRobot) -> Path:
    policy_dir = Path(cfg.policy) if cfg.policy is not None else POLICIES_DIR / spec.policy_folder
    if not (policy_dir / "policy.json").is_file():
        raise RobotRLError(f"no policy at {policy_dir} (policy.json missing); run the full `robot-rl demo` "
                           "to train one, or pass --policy FOLDER")
    return policy_dir


def run(cfg: DemoConfig, console) -> dict[str, Any]:
    """The whole loop; returns (and writes) the summary."""
    from sim.params import resolve_params, write_params
    from sim.robot import load_robot

    spec = demo_robot(cfg.robot)
    if isinstance(spec, LeggedDemo):
        from robot_rl import legged_loop

        return legged_loop.run(cfg, console, spec)
    finetune_steps = cfg.finetune_steps or (spec.quick_finetune_steps if cfg.quick else spec.finetune_steps)
    n_steps = 6 if finetune_steps else 5
    cfg.out.mkdir(parents=True, exist_ok=True)
    robot = load_robot(spec.robot)
    summary: dict[str, Any] = {"robot": spec.robot, "task": spec.task, "quick": cfg.quick, "out": str(cfg.out)}
    t_all = time.perf_counter()

    # 1-2. a policy
    if cfg.policy is not None or cfg.quick:
        policy_dir = _policy_source(cfg, spec)
        console.print(f"using the policy in {policy_dir}")
    else:
        t0 = _step(console, f"1-2/{n_steps}  train in MuJoCo under domain randomization, export to ONNX")
        run_dir, policy_dir = train_policy(cfg, spec, console)
        cfg.timings["train_export_s"] = time.perf_counter() - t0
        curve = plot_training(run_dir, cfg.out / "training_curve.png", spec.train_title)
        if curve:
            summary["training_curve"] = str(curve)
    summary["policy"] = str(policy_dir)

    # 3. deploy against the sim robot with a reality gap, recording
    t0 = _step(console, f"3/{n_steps}  deploy: policy node -> PyBullet sim robot with a reality gap, over DDS, "
                        "recording")
    params_file = cfg.out / "robot_params.yaml"
    write_params(params_file, spec.reality_gap, comment="The sim robot's true physics (the demo's 'real robot').")
    robot_result, bag = deploy_episodes(cfg, spec, policy_dir, "pybullet", params_file, "robot", record=True)
    cfg.timings["deploy_s"] = time.perf_counter() - t0
    console.print(f"robot: {_describe(robot_result)} over {robot_result['episodes']} episodes; recording in {bag}")
    summary["deployment_plot"] = str(plot_deployment(bag, cfg.out / "deployment.png", spec.robot))

    # 4. identification run on the robot, then identify
    t0 = _step(console, f"4/{n_steps}  identification run on the robot (multisine over DDS), then mujoco.sysid")
    sysid_bag = identification_run(cfg, spec, params_file, console)
    console.print(f"recorded the identification run in {sysid_bag}; fitting {len(spec.fit_names)} parameters")
    fit = identify_gap(spec, sysid_bag, cfg.out / "calib")
    cfg.timings["sysid_s"] = time.perf_counter() - t0
    console.print(f"identified in {time.perf_counter() - t0:.0f} s")
    summary["calibration"] = {k: str(v) for k, v in fit.paths.items()}
    adequate = getattr(fit, "adequate", None)  # the identification's own verdict, where it gives one
    if adequate is not None:
        summary["calibration"]["adequate"] = bool(adequate)
    if "params" not in fit.paths:
        reasons = "; ".join(getattr(fit, "reasons", []) or fit.notes[-3:])
        raise RobotRLError(f"the identification wrote no calibrated parameters ({reasons}); see "
                           f"{fit.paths.get('report', cfg.out / 'calib')}")

    # 5. compare
    t0 = _step(console, f"5/{n_steps}  compare through the same deploy chain: training sim, robot, calibrated sim")
    nominal_eval, _ = deploy_episodes(cfg, spec, policy_dir, "mujoco", None, "nominal_sim", record=False)
    calibrated_eval, _ = deploy_episodes(cfg, spec, policy_dir, "mujoco", Path(fit.paths["params"]),
                                         "calibrated_sim", record=False)
    cfg.timings["compare_s"] = time.perf_counter() - t0
    true_values = resolve_params(robot, spec.reality_gap)
    summary["returns"] = {
        "training_sim_mujoco_nominal": _brief(nominal_eval),
        "robot_pybullet_gap_over_dds": _brief(robot_result),
        "calibrated_sim_mujoco": _brief(calibrated_eval),
    }
    gap_before = _rel_gap(nominal_eval["mean_return"], robot_result["mean_return"])
    gap_after = _rel_gap(calibrated_eval["mean_return"], robot_result["mean_return"])
    summary["sim_to_real_return_gap"] = {"nominal": gap_before, "calibrated": gap_after, "target_calibrated": 0.05}
    summary["parameters"] = {
        name: {
            "nominal": robot.nominal[name],
            "true": true_values[name],
            "identified": fit.fitted[name],
            "half_width_95": None if not np.isfinite(fit.half_widths[name]) else fit.half_widths[name],
            "error_pct": 100.0 * abs(fit.fitted[name] - true_values[name]) / max(abs(true_values[name]), 1e-12),
        }
        for name in spec.fit_names
    }
    summary["next_training"] = (f"robot-rl train --task {spec.task} --algo ppo --params {fit.paths.get('params')} "
                                f"--randomize {fit.paths.get('randomization')} --out runs/{spec.robot}_calibrated")

    # 6. fine-tune on the calibrated simulator, deploy again
    if finetune_steps:
        t0 = _step(console, f"6/{n_steps}  fine-tune on the calibrated simulator ({finetune_steps} steps), "
                            "deploy to the robot again")
        init = policy_dir / CHECKPOINT_FILE
        if not init.is_file():
            raise RobotRLError(f"no training checkpoint to fine-tune from at {init}; a policy folder made by "
                               f"`robot-rl demo` (or the shipped policies/{spec.policy_folder}) has one")
        tuned_run, tuned_dir = fine_tune(cfg, spec, init, Path(fit.paths["params"]),
                                         Path(fit.paths["randomization"]), finetune_steps, console)
        after, _ = deploy_episodes(cfg, spec, tuned_dir, "pybullet", params_file, "robot_after", record=False)
        cfg.timings["finetune_deploy_s"] = time.perf_counter() - t0
        summary["policy_calibrated"] = str(tuned_dir)
        summary["robot_before_after"] = {"before": _brief(robot_result), "after": _brief(after)}
        summary["finetune"] = {"steps": finetune_steps, "run": str(tuned_run), "init": str(init)}
    return write_summary(cfg, summary, t_all, print_summary, console)


def write_summary(cfg: DemoConfig, summary: dict[str, Any], t_all: float, printer, console) -> dict[str, Any]:
    """Finish a demo: total time and timings into `summary`, summary.json written, the tables printed."""
    cfg.timings["total_s"] = time.perf_counter() - t_all
    summary["timings_s"] = {k: round(v, 1) for k, v in cfg.timings.items()}
    (cfg.out / "summary.json").write_text(json.dumps(summary, indent=2))
    printer(summary, console)
    return summary


def _describe(result: dict) -> str:
    text = f"return {result['mean_return']:.1f}, success {result['success_rate']:.2f}"
    if result.get("mean_final_goal_distance") is not None:
        text += f", final position error {100 * result['mean_final_goal_distance']:.1f} cm (mean)"
    return text


def _brief(result: dict) -> dict:
    brief = {k: result.get(k) for k in ("mean_return", "std_return", "success_rate", "episodes", "returns")}
    for k in ("mean_final_goal_distance", "max_final_goal_distance", "final_goal_distance"):
        if k in result:  # tasks with a goal position (the reach)
            brief[k] = result[k]
    return brief


def _rel_gap(sim_return: float, robot_return: float) -> float:
    return abs(sim_return - robot_return) / max(abs(robot_return), 1e-9)


def _cm(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def print_summary(summary: dict[str, Any], console) -> None:
    from rich.table import Table

    returns = Table(title="policy return through the same node + SafetyFilter over DDS, same episode seeds")
    for col in ("where", "mean return", "std", "success rate", "final error [cm]", "episodes"):
        returns.add_column(col)
    labels = {
        "training_sim_mujoco_nominal": "training sim (MuJoCo, nominal)",
        "robot_pybullet_gap_over_dds": "robot (PyBullet + reality gap)",
        "calibrated_sim_mujoco": "calibrated sim (MuJoCo + fit)",
    }
    for key, label in labels.items():
        r = summary["returns"][key]
        returns.add_row(label, f"{r['mean_return']:.1f}", f"{r['std_return']:.1f}",
                        "-" if r["success_rate"] is None else f"{r['success_rate']:.2f}",
                        _cm(r.get("mean_final_goal_distance")), str(r["episodes"]))
    console.print(returns)
    gap = summary["sim_to_real_return_gap"]
    verdict = "[green]within[/green]" if gap["calibrated"] <= gap["target_calibrated"] else "[red]outside[/red]"
    console.print(f"return gap to the robot: nominal sim {100 * gap['nominal']:.1f}%, calibrated sim "
                  f"{100 * gap['calibrated']:.1f}% ({verdict} the 5% target)")
    if "robot_before_after" in summary:
        ba = Table(title="on the robot (PyBullet + reality gap, over DDS): before and after fine-tuning on the "
                         "calibrated simulator")
        for col in ("policy", "success rate", "mean final error [cm]", "max final error [cm]", "mean return"):
            ba.add_column(col)
        for key, label in (("before", "before (trained on nominal + DR)"), ("after", "after (fine-tuned, calibrated)")):
            r = summary["robot_before_after"][key]
            ba.add_row(label, f"{r['success_rate']:.2f}", _cm(r.get("mean_final_goal_distance")),
                       _cm(r.get("max_final_goal_distance")), f"{r['mean_return']:.1f}")
        console.print(ba)
    params = Table(title="identified parameters vs the sim robot's true ones")
    for col in ("parameter", "nominal", "true", "identified", "95% +-", "error"):
        params.add_column(col)
    for name, p in summary["parameters"].items():
        hw = "unidentifiable" if p["half_width_95"] is None else f"{p['half_width_95']:.3g}"
        params.add_row(name, f"{p['nominal']:.4g}", f"{p['true']:.4g}", f"{p['identified']:.4g}", hw,
                       f"{p['error_pct']:.1f}%")
    console.print(params)
    adequate = summary["calibration"].get("adequate")
    if adequate is not None:
        console.print(f"identification verdict: {'adequate' if adequate else 'not adequate'} "
                      f"(reasons in {summary['calibration'].get('result', 'calib/result.json')})")
    console.print(f"outputs in {summary['out']}: summary.json, deployment.png"
                  + (", training_curve.png" if "training_curve" in summary else "")
                  + f", sysid report {summary['calibration'].get('report', '')}")
    if "policy_calibrated" in summary:
        console.print(f"the policy fine-tuned on the calibrated simulator: {summary['policy_calibrated']}")
    else:
        console.print(f"train again on the calibrated simulator:\n  {summary['next_training']}")
    console.print(f"timings: {summary['timings_s']}")
