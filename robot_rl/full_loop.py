"""The full sim-to-real loop on embedded defaults: what `robot-rl demo` (and `make demo`) runs.

1. train   PPO on CartpoleSwingup-v0 in MuJoCo under the default domain randomization
           (--quick: skip, use the shipped policy in policies/cartpole_swingup)
2. export  the actor to ONNX + model card (`robot-rl export`)
3. deploy  the policy node (`robot-rl deploy`) drives a PyBullet sim robot (`robot-rl sim-robot`)
           whose physics differ from the nominal model (the "reality gap", written to
           robot_params.yaml), two processes over real DDS on an isolated loopback domain, while
           the node records joint states and commands to a rosbag2 folder
4. sysid   an identification run on the same robot (`robot-rl excite --publish`: a multisine
           through the SafetyFilter, recorded to rosbag2), then identify pole mass, hinge damping,
           slider friction, motor gain and command delay from that recording
           (`calibration.identify`, built on mujoco.sysid). Why not from the policy's own run:
           a balanced pole is open-loop unstable, so simulating a closed-loop recording open-loop
           diverges within a second and the fit learns nothing reliable; the hanging pole under a
           multisine is stable and informative, which is how a lab calibrates too.
5. compare the policy's return in the training simulator, on the "robot", and in the calibrated
           simulator; the identified parameters against the sim robot's true ones
Everything lands in one output folder with plots (training curve, deployment trajectory, the
sysid overlay report) and a summary.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.errors import RobotRLError

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_POLICY = REPO_ROOT / "policies" / "cartpole_swingup"
TASK = "CartpoleSwingup-v0"

# The "real robot": a cart-pole whose pole is heavier, hinge stiffer, rail rougher, motor weaker
# and command path slower than the nominal model says. Hinge damping at 3x nominal lies outside the
# default DR range on purpose: calibration must find what randomization did not cover.
REALITY_GAP = {
    "pole.mass": 0.24,
    "hinge.damping": 0.006,
    "slider.frictionloss": 0.2,
    "slider.gain": 0.88,
    "action_delay": 0.016,
}
FIT_NAMES = ["pole.mass", "hinge.damping", "slider.frictionloss", "slider.gain", "action_delay"]

# PPO settings that solve the swing-up under DR in about 300k steps (~1 min on 2 cores).
TRAIN_SETTINGS = {
    "num_envs": 64,
    "num_steps": 64,
    "num_minibatches": 4,
    "update_epochs": 5,
    "hidden": [128, 128],
    "learning_rate": 0.001,
}


@dataclass
class DemoConfig:
    out: Path
    quick: bool = False
    seed: int = 0
    train_steps: int = 600_000
    robot_episodes: int = 6
    eval_seed: int = 100  # episode i of every comparison is seeded eval_seed + i
    policy: Path | None = None  # use this policy folder instead of training / the shipped one
    progress: bool = True
    timings: dict[str, float] = field(default_factory=dict)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "robot_rl.cli", *args]


def _fresh(bag: Path) -> Path:
    """A bag folder path to record into: the recorder refuses to overwrite, a rerun replaces the old one."""
    if bag.exists():
        import shutil

        shutil.rmtree(bag)
    return bag


def _step(console, title: str):
    console.rule(f"[bold]{title}")
    return time.perf_counter()


def train_policy(cfg: DemoConfig, console) -> tuple[Path, Path]:
    """Train PPO in MuJoCo under DR; returns (run_dir, policy_dir)."""
    from robot_rl.train import RunConfig, command_line, train

    run_dir = cfg.out / "train"
    config = RunConfig(
        env_id=f"robot_rl/{TASK}", algo="ppo", steps=cfg.train_steps, seed=cfg.seed, engine="mujoco",
        randomize="default", eval_every=200_000, eval_episodes=10, checkpoint_every=200_000,
        algo_config=dict(TRAIN_SETTINGS), command=command_line(),
    )
    result = train(config, run_dir, progress=cfg.progress)
    console.print(f"trained {result.global_step} steps in {result.elapsed_s:.0f} s -> {run_dir}")
    policy_dir = cfg.out / "policy"
    proc = subprocess.run(_cli("export", str(run_dir), "--out", str(policy_dir), "--eval-episodes", "5"),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RobotRLError(f"export of {run_dir} failed:\n{proc.stderr[-2000:]}")
    console.print(f"exported -> {policy_dir}")
    return run_dir, policy_dir


SIM_WATCHDOG_S = 1.0  # s: the watchdogs against the lockstep sim robot (see deploy_episodes)


def deploy_episodes(cfg: DemoConfig, policy_dir: Path, engine: str, params_file: Path | None,
                    tag: str, record: bool) -> tuple[dict, Path | None]:
    """Policy node + sim robot in two processes over DDS for `robot_episodes` episodes.

    Returns the sim robot's evaluation JSON and, with `record`, the rosbag2 folder the node wrote.
    Every comparison in the demo goes through this same chain (node, SafetyFilter ramp included),
    so the returns differ only by the physics behind the robot interface.
    """
    from robot_rl.deploy import procs

    bag = _fresh(cfg.out / f"{tag}_bag") if record else None
    env = procs.dds_env(procs.pick_domain_id())
    node_log = cfg.out / f"{tag}_policy_node.log"
    # The "robot" is a lockstep simulator on a possibly busy machine: an episode reset may pause the
    # state stream longer than the default watchdog (5 periods), and a watchdog fault needs a reset.
    node_args = ["-m", "robot_rl.cli", "deploy", "--policy", str(policy_dir), "--robot", "cartpole",
                 "--transport", "dds", "--activate", "--sim", "--watchdog", str(SIM_WATCHDOG_S)]
    if bag is not None:
        node_args += ["--record", str(bag)]
    node = procs.spawn(node_args, env, node_log)
    robot_args = ["sim-robot", "--robot", "cartpole", "--engine", engine, "--task", TASK, "--transport", "dds",
                  "--episodes", str(cfg.robot_episodes), "--seed", str(cfg.eval_seed), "--lockstep", "--json"]
    if params_file is not None:
        robot_args += ["--params", str(params_file)]
    try:
        sim = subprocess.run(_cli(*robot_args), env=env, capture_output=True, text=True, timeout=600)
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


def identification_run(cfg: DemoConfig, params_file: Path, duration: float = 20.0) -> Path:
    """`robot-rl excite --publish` against the sim robot over DDS; returns the recorded bag."""
    from robot_rl.deploy import procs

    bag = _fresh(cfg.out / "sysid_bag")
    env = procs.dds_env(procs.pick_domain_id())
    robot_log = cfg.out / "sim_robot_sysid.log"
    robot = procs.spawn(["-m", "robot_rl.cli", "sim-robot", "--robot", "cartpole", "--engine", "pybullet",
                         "--transport", "dds", "--params", str(params_file), "--lockstep"], env, robot_log)
    try:
        proc = subprocess.run(_cli("excite", "--robot", "cartpole", "--publish", "--transport", "dds",
                                   "--duration", str(duration), "--seed", str(cfg.seed), "--record", str(bag),
                                   "--watchdog", str(SIM_WATCHDOG_S)),
                              env=env, capture_output=True, text=True, timeout=300)
    finally:
        procs.stop(robot)
    if proc.returncode != 0 or not bag.exists():
        raise RobotRLError(f"identification run failed (sim robot log: {robot_log}):\n{proc.stderr[-2000:]}")
    return bag


def plot_training(run_dir: Path, path: Path) -> Path | None:
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
    ax.set_title("PPO, CartpoleSwingup-v0, MuJoCo, default DR")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_deployment(bag: Path, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from calibration.load import load_log
    from sim.robot import load_robot

    log = load_log(bag, load_robot("cartpole"))
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
    axes[2].set_xlabel("robot time [s]")
    for b in log.breaks:
        for ax in axes:
            ax.axvline(b, color="grey", lw=0.5)
    axes[0].set_title("deployment: policy node -> PyBullet sim robot with a reality gap, over DDS")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(cfg: DemoConfig, console) -> dict[str, Any]:
    """The whole loop; returns (and writes) the summary."""
    from calibration import identify
    from sim.params import resolve_params, write_params
    from sim.robot import load_robot

    cfg.out.mkdir(parents=True, exist_ok=True)
    robot = load_robot("cartpole")
    summary: dict[str, Any] = {"task": TASK, "quick": cfg.quick, "out": str(cfg.out)}
    t_all = time.perf_counter()

    # 1-2. a policy
    run_dir = None
    if cfg.policy is not None or cfg.quick:
        policy_dir = Path(cfg.policy) if cfg.policy is not None else SHIPPED_POLICY
        if not (policy_dir / "policy.json").is_file():
            raise RobotRLError(f"no policy at {policy_dir} (policy.json missing); run the full `robot-rl demo` "
                               "to train one, or pass --policy FOLDER")
        console.print(f"using the policy in {policy_dir}")
    else:
        t0 = _step(console, "1-2/5  train in MuJoCo under domain randomization, export to ONNX")
        run_dir, policy_dir = train_policy(cfg, console)
        cfg.timings["train_export_s"] = time.perf_counter() - t0
        curve = plot_training(run_dir, cfg.out / "training_curve.png")
        if curve:
            summary["training_curve"] = str(curve)
    summary["policy"] = str(policy_dir)

    # 3. deploy against the sim robot with a reality gap, recording
    t0 = _step(console, "3/5  deploy: policy node -> PyBullet sim robot with a reality gap, over DDS, recording")
    params_file = cfg.out / "robot_params.yaml"
    write_params(params_file, REALITY_GAP, comment="The sim robot's true physics (the demo's 'real robot').")
    robot_result, bag = deploy_episodes(cfg, policy_dir, "pybullet", params_file, "robot", record=True)
    cfg.timings["deploy_s"] = time.perf_counter() - t0
    console.print(f"robot: return {robot_result['mean_return']:.1f}, success {robot_result['success_rate']:.2f} "
                  f"over {robot_result['episodes']} episodes; recording in {bag}")
    summary["deployment_plot"] = str(plot_deployment(bag, cfg.out / "deployment.png"))

    # 4. identification run on the robot, then identify
    t0 = _step(console, "4/5  identification run on the robot (multisine over DDS), then mujoco.sysid")
    sysid_bag = identification_run(cfg, params_file)
    console.print(f"recorded the identification run in {sysid_bag}")
    fit = identify(robot, sysid_bag, FIT_NAMES, cfg.out / "calib", engine="mujoco")
    cfg.timings["sysid_s"] = time.perf_counter() - t0
    summary["calibration"] = {k: str(v) for k, v in fit.paths.items()}

    # 5. compare
    t0 = _step(console, "5/5  compare through the same deploy chain: training sim, robot, calibrated sim")
    nominal_eval, _ = deploy_episodes(cfg, policy_dir, "mujoco", None, "nominal_sim", record=False)
    calibrated_eval, _ = deploy_episodes(cfg, policy_dir, "mujoco", Path(fit.paths["params"]), "calibrated_sim",
                                         record=False)
    cfg.timings["compare_s"] = time.perf_counter() - t0
    true_values = resolve_params(robot, REALITY_GAP)
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
        for name in FIT_NAMES
    }
    summary["next_training"] = (f"robot-rl train --task {TASK} --algo ppo --params {fit.paths.get('params')} "
                                f"--randomize {fit.paths.get('randomization')} --out runs/swingup_calibrated")
    cfg.timings["total_s"] = time.perf_counter() - t_all
    summary["timings_s"] = {k: round(v, 1) for k, v in cfg.timings.items()}
    (cfg.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print_summary(summary, console)
    return summary


def _brief(result: dict) -> dict:
    return {k: result.get(k) for k in ("mean_return", "std_return", "success_rate", "episodes", "returns")}


def _rel_gap(sim_return: float, robot_return: float) -> float:
    return abs(sim_return - robot_return) / max(abs(robot_return), 1e-9)


def print_summary(summary: dict[str, Any], console) -> None:
    from rich.table import Table

    returns = Table(title="policy return through the same node + SafetyFilter over DDS, same episode seeds")
    for col in ("where", "mean return", "std", "success rate", "episodes"):
        returns.add_column(col)
    labels = {
        "training_sim_mujoco_nominal": "training sim (MuJoCo, nominal)",
        "robot_pybullet_gap_over_dds": "robot (PyBullet + reality gap)",
        "calibrated_sim_mujoco": "calibrated sim (MuJoCo + fit)",
    }
    for key, label in labels.items():
        r = summary["returns"][key]
        returns.add_row(label, f"{r['mean_return']:.1f}", f"{r['std_return']:.1f}",
                        "-" if r["success_rate"] is None else f"{r['success_rate']:.2f}", str(r["episodes"]))
    console.print(returns)
    gap = summary["sim_to_real_return_gap"]
    verdict = "[green]within[/green]" if gap["calibrated"] <= gap["target_calibrated"] else "[red]outside[/red]"
    console.print(f"return gap to the robot: nominal sim {100 * gap['nominal']:.1f}%, calibrated sim "
                  f"{100 * gap['calibrated']:.1f}% ({verdict} the 5% target)")
    params = Table(title="identified parameters vs the sim robot's true ones")
    for col in ("parameter", "nominal", "true", "identified", "95% +-", "error"):
        params.add_column(col)
    for name, p in summary["parameters"].items():
        hw = "unidentifiable" if p["half_width_95"] is None else f"{p['half_width_95']:.3g}"
        params.add_row(name, f"{p['nominal']:.4g}", f"{p['true']:.4g}", f"{p['identified']:.4g}", hw,
                       f"{p['error_pct']:.1f}%")
    console.print(params)
    console.print(f"outputs in {summary['out']}: summary.json, deployment.png"
                  + (", training_curve.png" if "training_curve" in summary else "")
                  + f", sysid report {summary['calibration'].get('report', '')}")
    console.print(f"train again on the calibrated simulator:\n  {summary['next_training']}")
    console.print(f"timings: {summary['timings_s']}")
