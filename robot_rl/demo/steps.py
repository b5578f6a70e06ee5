"""The loop's steps, shared by every kind: train or take a policy, export it, deploy it over DDS to a
sim robot with a hidden gap, record, excite, identify, film, fine-tune.

Each step runs the project's own commands (`robot-rl train/export/deploy/sim-robot/excite`, the
calibration API) as a user would, in their own processes where a robot would be another machine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from robot_rl.demo.config import CHECKPOINT_FILE, LOCKSTEP_WATCHDOG_S, VIDEO_SIZE, DemoConfig
from robot_rl.errors import RobotRLError

if TYPE_CHECKING:
    from robot_rl.demo.spec import DemoSpec


def cli(*args: str) -> list[str]:
    """A `robot-rl` command line run by this interpreter."""
    return [sys.executable, "-m", "robot_rl.cli", *args]


def fresh(bag: Path) -> Path:
    """A bag folder path to record into: the recorder refuses to overwrite, a rerun replaces the old one."""
    if bag.exists():
        shutil.rmtree(bag)
    return bag


def step(console, title: str) -> float:
    """Announce a step; returns its start time."""
    console.rule(f"[bold]{title}")
    return time.perf_counter()


def policy_source(cfg: DemoConfig, spec: DemoSpec, trains: bool) -> Path:
    """The policy folder a run without training uses: --policy, else the robot's shipped one."""
    from robot_rl.demo.spec import missing_policy

    if cfg.policy is not None:
        policy_dir = Path(cfg.policy)
        if not (policy_dir / "policy.json").is_file():
            raise RobotRLError(f"no policy at {policy_dir} (policy.json missing); pass the folder `robot-rl export` "
                               "wrote (policy.onnx + policy.json)")
        return policy_dir
    if spec.policy is None or not (spec.policy / "policy.json").is_file():
        raise missing_policy(spec, trains)
    return spec.policy


def write_gap(path: Path, robot, gap: dict[str, Any]) -> dict[str, float]:
    """The gap as absolute values of the parameters it changes (robot_params.yaml); returns all true values."""
    from sim.params import resolve_params, write_params

    true = resolve_params(robot, gap)
    changed = {k: v for k, v in true.items() if v != robot.nominal[k]}
    write_params(path, changed, comment="The sim robot's true physics (the demo's 'real robot'): what differs "
                 "from robot.yaml.")
    return true


def export_policy(run_dir: Path, policy_dir: Path, checkpoint: str, eval_episodes: int) -> Path:
    """`robot-rl export` of one checkpoint of a run into `policy_dir` (the demo's own: replaced on a rerun)."""
    proc = subprocess.run(cli("export", str(run_dir), "--out", str(policy_dir), "--checkpoint", checkpoint,
                              "--eval-episodes", str(eval_episodes), "--force"), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RobotRLError(f"export of {run_dir} failed:\n{proc.stderr[-2000:]}")
    return policy_dir


def _robot_kwarg(spec: DemoSpec) -> str | None:
    """RunConfig.robot: None for an alias (its own robot), the robot for a task by kind."""
    return None if spec.task != spec.kind.task else spec.robot


def training_config(cfg: DemoConfig, spec: DemoSpec):
    """The RunConfig of the demo's training (step 1): the kind's preset and settings, from scratch, in MuJoCo
    under the robot's default DR, for --steps if given, else for the kind's time budget (capped at its steps)."""
    from robot_rl.train import RunConfig, command_line

    kind = spec.kind
    budget = cfg.train_time_budget_s
    if budget is None and cfg.train_steps is None:
        budget = kind.train_time_budget_s
    return RunConfig(
        env_id=f"robot_rl/{spec.task}", algo="ppo", steps=cfg.train_steps or kind.train_steps, seed=cfg.seed,
        engine="mujoco", robot=_robot_kwarg(spec), randomize="default", eval_every=kind.eval_every,
        eval_episodes=10, checkpoint_every=kind.eval_every, algo_config=dict(kind.train_settings),
        preset=kind.preset, command=command_line(), time_budget_s=budget,
    )


def train_policy(cfg: DemoConfig, spec: DemoSpec, console) -> tuple[Path, Path]:
    """Train PPO in MuJoCo under the robot's default DR; returns (run_dir, policy_dir)."""
    from robot_rl.train import train

    run_dir = cfg.out / "train"
    if run_dir.exists():  # an earlier demo's run (`robot-rl demo` refused a used --out unless --force)
        shutil.rmtree(run_dir)
    kind = spec.kind
    run_config = training_config(cfg, spec)
    result = train(run_config, run_dir, progress=cfg.progress)
    console.print(f"trained {result.global_step} steps in {result.elapsed_s:.0f} s -> {run_dir}")
    checkpoint = "best.pt" if (run_dir / "checkpoints" / "best.pt").is_file() else "last.pt"
    policy_dir = export_policy(run_dir, cfg.out / "policy", checkpoint, kind.export_eval_episodes)
    shutil.copyfile(run_dir / "checkpoints" / checkpoint, policy_dir / CHECKPOINT_FILE)
    console.print(f"exported {checkpoint} -> {policy_dir}")
    return run_dir, policy_dir


def fine_tune(cfg: DemoConfig, spec: DemoSpec, init_checkpoint: Path, params_file: Path,
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
    settings["learning_rate"] = spec.kind.finetune_learning_rate
    run_dir = cfg.out / "finetune"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    every = max(steps // 3, 1)
    run_config = RunConfig(
        env_id=f"robot_rl/{spec.task}", algo="ppo", steps=steps, seed=cfg.seed + 1, engine="mujoco",
        robot=_robot_kwarg(spec), randomize=str(randomization_file), params=str(params_file), eval_every=every,
        eval_episodes=10, checkpoint_every=every, algo_config=settings, command=command_line(),
        init_from=str(init_checkpoint),
    )
    trainer = Trainer(run_config, run_dir, progress=cfg.progress)
    result = trainer.run()
    console.print(f"fine-tuned {result.global_step} steps in {result.elapsed_s:.0f} s on the calibrated simulator "
                  f"-> {run_dir}")
    checkpoint = "best.pt" if (run_dir / "checkpoints" / "best.pt").is_file() else "last.pt"
    policy_dir = export_policy(run_dir, cfg.out / "policy_calibrated", checkpoint, 0)
    return run_dir, policy_dir


def episodes(cfg: DemoConfig, spec: DemoSpec) -> int:
    """Episodes per deployment: the run's, else the kind's."""
    return cfg.robot_episodes or spec.kind.default_episodes


def deploy_episodes(cfg: DemoConfig, spec: DemoSpec, policy_dir: Path, engine: str, params_file: Path | None,
                    tag: str, record: bool, measure: bool = False) -> tuple[dict, Path | None]:
    """Policy node + sim robot in two processes over DDS for the run's episodes.

    Returns the sim robot's evaluation JSON and, with `record`, the rosbag2 folder the node wrote.
    Every comparison in the demo goes through this same chain (node, SafetyFilter ramp included),
    so the returns differ only by the physics behind the robot interface (and the policy).
    `measure` (legged robots): the sim robot also reports falls and velocity tracking error, as an
    outside observer (robot_rl.demo.legged_sim_robot).
    """
    from robot_rl.deploy import procs

    bag = fresh(cfg.out / f"{tag}_bag") if record else None
    env = procs.dds_env(procs.pick_domain_id())
    node_log = cfg.out / f"{tag}_policy_node.log"
    node_args = ["-m", "robot_rl.cli", "deploy", "--policy", str(policy_dir), "--robot", spec.robot,
                 "--transport", "dds", "--activate", "--sim", "--watchdog", str(LOCKSTEP_WATCHDOG_S)]
    if bag is not None:
        node_args += ["--record", str(bag)]
    node = procs.spawn(node_args, env, node_log)
    robot_args = ["--robot", spec.robot, "--engine", engine, "--task", spec.task, "--transport", "dds",
                  "--episodes", str(episodes(cfg, spec)), "--seed", str(cfg.eval_seed), "--lockstep", "--json"]
    if params_file is not None:
        robot_args += ["--params", str(params_file)]
    if cfg.ideal_sensors:
        robot_args.append("--ideal-sensors")
    command = ([sys.executable, "-m", "robot_rl.demo.legged_sim_robot", *robot_args] if measure
               else cli("sim-robot", *robot_args))
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


def node_faults(log_path: Path) -> list[str]:
    """The policy node's latched faults in its log (a watchdog fault stays latched for the whole run)."""
    if not log_path.is_file():
        return []
    return [line.split("FAULT:", 1)[1].strip() for line in log_path.read_text().splitlines() if "FAULT:" in line]


def deploy_checked(cfg: DemoConfig, spec: DemoSpec, policy_dir: Path, engine: str, params_file: Path | None,
                   tag: str, record: bool, console, measure: bool = False) -> tuple[dict, Path | None]:
    """`deploy_episodes`, repeated once if the policy node faulted.

    The node's watchdog fires when the machine stalls a process that long, and the fault stays
    latched: every later episode then runs in the safe mode and scores the machine's load, not the
    policy. A lab would restart the run; so does this, once, and a second fault is reported with
    the result (`node_faults`) instead of passing for a policy's.
    """
    for attempt in (1, 2):
        result, bag = deploy_episodes(cfg, spec, policy_dir, engine, params_file, tag, record=record,
                                      measure=measure)
        faults = node_faults(cfg.out / f"{tag}_policy_node.log")
        result["node_faults"] = faults
        if not faults:
            return result, bag
        console.print(f"[yellow]{tag}: the policy node faulted ({faults[0]}); "
                      f"{'running it again' if attempt == 1 else 'reported with the result'}[/yellow]")
    return result, bag


def identification_run(cfg: DemoConfig, spec: DemoSpec, params_file: Path, console=None) -> Path:
    """`robot-rl excite --publish` against the sim robot over DDS; returns the recorded bag.

    Tried twice: a run that stops early (the excitation's watchdog, a DDS hiccup on a loaded
    machine) is repeated once, as a lab would; a second failure is an error.
    """
    from robot_rl.deploy import procs

    errors = []
    robot_log = cfg.out / "sim_robot_sysid.log"
    for attempt in (1, 2):
        bag = fresh(cfg.out / "sysid_bag")
        env = procs.dds_env(procs.pick_domain_id())
        robot_args = ["-m", "robot_rl.cli", "sim-robot", "--robot", spec.robot, "--engine", "pybullet",
                      "--transport", "dds", "--params", str(params_file), "--lockstep"]
        if spec.kind.continuous_identification:
            robot_args.append("--continuous")
        if cfg.ideal_sensors:
            robot_args.append("--ideal-sensors")
        robot = procs.spawn(robot_args, env, robot_log)
        try:
            proc = subprocess.run(cli("excite", "--robot", spec.robot, "--publish", "--transport", "dds",
                                      "--duration", str(spec.kind.excite_duration), "--seed", str(cfg.seed),
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


def identify_gap(spec: DemoSpec, bag: Path, out_dir: Path):
    """The one place the fixed-base loop calls system identification (calibration's public API), on
    the identification run's first `excite_duration` seconds.

    Why cut the log there: the recorder keeps writing for a moment after the excitation ends (the
    robot coasting while the nodes shut down), a tail of 0.1-0.7 s that varies run to run. The fit
    holds out the log's last quarter, so that tail moved the split, and on noisy readings (the sim
    robot's encoders) one split landed the fit in another local minimum (errors 4-44%) where the
    others gave 0.01-0.1%. Cut at the excitation's end, the same run gives the same fit every time.
    """
    from calibration import identify
    from calibration.load import load_log
    from sim.robot import load_robot

    robot = load_robot(spec.robot)
    log = load_log(bag, robot)
    log = log.window(float(log.t[0]), float(log.t[0]) + spec.kind.excite_duration)
    # force: `robot-rl demo` has already refused a used --out unless --force (its calib/ is the demo's own)
    return identify(robot, log, list(spec.fit_names), out_dir, engine="mujoco", skip=spec.kind.skip, force=True)


def film_identification(cfg: DemoConfig, robot: str, bag: Path, fit, console) -> str | None:
    """The identification run's first `cfg.video_seconds` replayed beside the nominal (cyan) and the
    calibrated (magenta) simulator: calib/replay.mp4, shown in the sysid report. None if not asked
    for or if this machine cannot render (said on the console; the demo goes on).

    Why the identification run and not the policy's deployment: the fit replays commands open loop,
    and a multisine on a hanging pole stays comparable for its whole length, while an open-loop
    replay of a balanced pole falls off the logged one within a second whatever the parameters.
    """
    if cfg.video_seconds <= 0:
        return None
    from robot_rl.commands.replay import sysid_replay
    from robot_rl.video import VideoError
    from sim.render import RenderUnavailableError

    t0 = time.perf_counter()
    try:
        video = sysid_replay(fit, bag, robot, seconds=cfg.video_seconds, width=VIDEO_SIZE[0], height=VIDEO_SIZE[1])
    except (RenderUnavailableError, VideoError) as exc:
        console.print(f"[yellow]no replay video: {exc}[/yellow]")
        return None
    cfg.timings["video_s"] = time.perf_counter() - t0
    console.print(f"filmed {cfg.video_seconds:g} s of the identification run beside the nominal and calibrated "
                  f"simulators: {video}")
    return str(video)


def write_summary(cfg: DemoConfig, summary: dict[str, Any], t_all: float, printer, console) -> dict[str, Any]:
    """Finish a demo: total time and timings into `summary`, summary.json written, the tables printed."""
    cfg.timings["total_s"] = time.perf_counter() - t_all
    summary["timings_s"] = {k: round(v, 1) for k, v in cfg.timings.items()}
    (cfg.out / "summary.json").write_text(json.dumps(summary, indent=2))
    printer(summary, console)
    return summary

