"""Export a trained run to a policy folder a robot can run: policy.onnx + policy.json (model card).

Examples:
  robot-rl export runs/swingup --out policies/cartpole_swingup
  robot-rl export runs/reach --out policies/iiwa_reach --checkpoint last --eval-episodes 20
  robot-rl export runs/swingup --out /tmp/p --eval-episodes 0        skip evaluation (fast)

policy.onnx is the deterministic actor: raw observation in (normalization is inside the graph),
action in [-1, 1] out. policy.json says what the robot needs to run it and what to expect: robot
and joint order, observation layout with units, what each action means and how it scales to a
force or target position, limits, control rate, the training command, seed and git commit, ONNX
opset and SHA-256, and evaluation of the ONNX policy in MuJoCo and PyBullet, with and without
domain randomization, and as a robot runs it: behind the default SafetyFilter (MuJoCo + DR, key
mujoco_dr_safety_filter, with the fraction of steps the filter had to change), and under each
realistic model error of the robot's robustness.yaml in both engines (keys robustness: PyBullet,
robustness_mujoco: MuJoCo). Export fails,
writing nothing, if onnxruntime and the torch actor disagree by more than 1e-5 on 1000 random
observations.

The policy comes from the run's best checkpoint (checkpoints/best.pt: the best periodic evaluation during
training) when it has one, else from last.pt; --checkpoint best|last (or a file such as
step_000100000.pt) chooses. The command prints which it used and the card records it (training.checkpoint,
training.checkpoint_kind, training.checkpoint_eval_return).

Then: `robot-rl policies` lists policy folders; `robot-rl eval FOLDER` evaluates one;
`robot-rl deploy --policy FOLDER` runs it behind the safety filter.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from robot_rl.commands._args import non_negative_int, positive_int

NAME = "export"
HELP = "export a trained run to policy.onnx + policy.json (model card with contract and evaluation)"

ENGINES = ("mujoco", "pybullet")
DEPLOYED = "mujoco_dr_safety_filter"  # evaluation key: the Controller (policy + SafetyFilter) in the loop


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, help="run directory written by `robot-rl train`")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="policy folder to write, new or empty, e.g. policies/NAME (an existing policy or other files there "
        "are refused unless --force)",
    )
    parser.add_argument("--force", action="store_true", help="replace the policy in --out (or fill a non-empty one)")
    parser.add_argument("--name", default=None, help="policy name in the card (default: the folder's name)")
    parser.add_argument(
        "--checkpoint",
        default=None,
        metavar="best|last|FILE",
        help="which checkpoint of the run: best (the best periodic evaluation during training), last (the final "
        "state) or a file in checkpoints/ (step_000100000.pt); default: best when the run has one, else last",
    )
    parser.add_argument(
        "--eval-episodes",
        type=non_negative_int,
        default=10,
        metavar="N",
        help="episodes per evaluation condition (MuJoCo/PyBullet x nominal/DR); 0 skips evaluation",
    )
    parser.add_argument(
        "--eval-seed", type=non_negative_int, default=1000, help="episode i of each condition uses seed+i"
    )
    parser.add_argument(
        "--randomize",
        default=None,
        metavar="CFG",
        help="DR config for the 'with DR' evaluations (default: the run's, else 'default')",
    )
    parser.add_argument(
        "--opset", type=positive_int, default=None,
        help="ONNX opset, 15 up to the installed onnx package's newest (default: the exporter's own)",
    )


def evaluate_robustness(policy, task: str, episodes: int, seed: int, engine: str = "pybullet", progress=None,
                        robot: str | None = None) -> dict:
    """The policy under each case of the robot's `robustness.yaml` (realistic model errors), in `engine`.

    Cases are params mappings (absolute or {scale: s}), so the card states exactly which amounts of
    mass, friction, gain and delay error the policy was shown to survive; a legged robot's case may name
    a `terrain` too (sim/terrain.py: `terrain: rough` or `terrain: "stairs:step_height=0.08"`), the ground
    the episodes run on, as named (no curriculum). Empty if the robot has none.
    `robot`: the robot of a task by kind (a name or robot.yaml path); an alias's own if None.
    """
    from robot_rl.envs import make_env, resolve_env_id
    from robot_rl.training.evaluation import evaluate
    from sim.params import load_yaml_mapping, resolve_params
    from sim.robot import ROBOTS_DIR
    from sim.tasks.registry import resolve_robot

    spec = resolve_robot(task.removeprefix("robot_rl/"), robot)
    path = spec.root / "robustness.yaml"
    if not path.is_file():
        return {}
    cases = load_yaml_mapping(path, "robustness").get("cases") or {}
    results = {}
    kwargs = {} if robot is None else {"robot": robot}
    for name, case in cases.items():
        params, terrain = _case_terrain(case, f"{path}: case '{name}'")
        resolve_params(spec, params)  # a bad case fails here, naming the file's field
        if progress is not None:
            progress(f"{engine}, robustness case {name}")

        def factory(params=params, terrain=terrain):
            extra = {} if terrain is None else {"terrain": terrain}
            return make_env(resolve_env_id(task), engine=engine, randomization=None, params=params, **kwargs, **extra)

        res = evaluate(policy, factory, episodes, seed)
        results[name] = {"params": params, **({} if terrain is None else {"terrain": terrain}),
                         **{k: res[k] for k in ("mean_return", "std_return", "success_rate")}}
    shipped = spec.root.resolve().parent == ROBOTS_DIR
    return {"engine": engine, "source": f"sim/robots/{spec.root.name}/robustness.yaml" if shipped else str(path),
            "episodes": episodes, "seed": seed, "cases": results}


def _case_terrain(case, source: str) -> tuple[dict, object]:
    """(the case's params, its `terrain` or None), the terrain checked here so a bad one names the case."""
    from sim.errors import ConfigError
    from sim.terrain import parse_terrain

    if not isinstance(case, dict) or "terrain" not in case:
        return case, None
    params = {k: v for k, v in case.items() if k != "terrain"}
    terrain = case["terrain"]
    try:
        parse_terrain(terrain)
    except ConfigError as exc:
        raise ConfigError(source, "terrain", str(exc)) from None
    return params, terrain


def evaluate_conditions(policy, task: str, episodes: int, seed: int, randomize: str, progress=None,
                        robot: str | None = None) -> dict:
    """The card's evaluation: the ONNX policy in each engine, nominal and under domain randomization."""
    from robot_rl.envs import make_env, resolve_env_id
    from robot_rl.training.evaluation import evaluate

    env_id = resolve_env_id(task)
    kwargs = {} if robot is None else {"robot": robot}
    results = {}
    for engine in ENGINES:
        for label, dr in (("", None), ("_dr", randomize)):
            if progress is not None:
                progress(f"{engine}{' + DR ' + dr if dr else ''}")

            def factory(engine=engine, dr=dr):
                return make_env(env_id, engine=engine, randomization=dr, **kwargs)

            results[engine + label] = evaluate(policy, factory, episodes, seed)
    return {
        "policy": "policy.onnx through onnxruntime (robot_rl.runtime.OnnxPolicy)",
        "episodes": episodes,
        "seed": seed,
        "randomization": randomize,
        "results": results,
    }


def evaluate_on_terrain(policy, task: str, episodes: int, seed: int, terrain, progress=None,
                        robot: str | None = None) -> dict:
    """The policy on the run's terrain as named (sim/terrain.py; no curriculum: its last row), nominal physics,
    in each engine: what the card says about the ground it walks on."""
    from robot_rl.envs import make_env, resolve_env_id
    from robot_rl.training.evaluation import evaluate
    from sim.terrain import parse_terrain

    config = parse_terrain(terrain)
    kwargs = {} if robot is None else {"robot": robot}
    results = {}
    for engine in ENGINES:
        if progress is not None:
            progress(f"{engine} on terrain {terrain}")

        def factory(engine=engine):
            return make_env(resolve_env_id(task), engine=engine, randomization=None, terrain=terrain, **kwargs)

        results[engine] = evaluate(policy, factory, episodes, seed)
    return {"terrain": terrain, "resolved": None if config is None else config.without_curriculum().describe(),
            "episodes": episodes, "seed": seed, "results": results}


def evaluate_behind_safety_filter(
    folder: Path, task: str, engine: str, randomize: str | None, episodes: int, seed: int, robot: str | None = None
) -> dict:
    """The policy as a robot runs it: `robot_rl.runtime.Controller` (observation, ONNX, default SafetyFilter
    with its start-up ramp) reading the simulated robot's joint state, its safe command driving it.

    Same summary keys as `evaluate`, plus `fault_episodes` (episodes in which the filter latched a
    fault) and `filtered_step_fraction` (steps where the filter changed the policy's command): a
    policy that needs the filter often relies on commands a robot must not receive.
    """
    import numpy as np

    from robot_rl.envs import make_env
    from robot_rl.runtime import Controller, SafetyState
    from robot_rl.training.evaluation import summarize_episodes

    ctl = Controller(folder, robot)  # robot None: the card's own
    interface, dt = ctl.runner.interface, ctl.robot.control_dt
    env = make_env(task, engine=engine, randomization=randomize, **({} if robot is None else {"robot": robot}))
    sim = env.unwrapped
    returns, lengths, successes, faults, filtered = [], [], [], 0, 0
    t = 0.0  # the node's clock: it runs on across episodes, as a real node's does (the filter checks it)
    try:
        for i in range(episodes):
            env.reset(seed=seed + i)
            goal = sim.command if interface.command_size else None
            q, qd = sim.engine.joint_state()
            ctl.reset()
            # The simulator put the robot at a new episode's start: without this the rate limit would
            # continue from the last episode's final target (safety.py, SafetyFilter.relocated).
            ctl.safety.relocated()
            t += 1.0
            ctl.activate(t, q)
            total, steps, done, faulted, info = 0.0, 0, False, False, {}
            while not done:
                state = sim.state()  # what the robot reports: joints, and an IMU on a legged robot
                q, qd = state.q, state.qd
                out = ctl.step(t, t, q, qd, goal, imu=state.imu)
                faulted |= out.state is not SafetyState.ACTIVE
                asked = interface.action_to_command(ctl.runner.last_action)
                filtered += bool(np.any(np.abs(out.values - asked) > 1e-9 * (1.0 + np.abs(asked))))
                _, reward, terminated, truncated, info = env.step(interface.command_to_action(out.values))
                total, steps, t = total + float(reward), steps + 1, t + dt
                done = terminated or truncated
            returns.append(total)
            lengths.append(steps)
            faults += faulted
            if "success" in info:
                successes.append(bool(info["success"]))
    finally:
        env.close()
    return {
        **summarize_episodes(returns, lengths, successes),
        "fault_episodes": faults,
        "filtered_step_fraction": filtered / max(1, sum(lengths)),
    }


def check_export_out(out: Path, force: bool) -> None:
    """Refuse to overwrite an existing policy, or to drop one among other files, unless ``force``.

    A policy folder is what a robot runs; exporting over it by a slip of ``--out`` would replace a
    deployed, evaluated policy with another one under the same name.
    """
    from robot_rl.errors import RobotRLError
    from robot_rl.runtime.card import CARD_FILE, ONNX_FILE

    if out.exists() and not out.is_dir():
        raise RobotRLError(f"--out {out} is a file, not a folder; choose a new folder for the policy")
    if force or not out.is_dir():
        return
    existing = [name for name in (CARD_FILE, ONNX_FILE) if (out / name).exists()]
    if existing:
        raise RobotRLError(
            f"--out {out} already holds a policy ({', '.join(existing)}); choose another --out, or pass --force "
            "to replace it"
        )
    from robot_rl.export import is_export_temp

    entries = sorted(p.name for p in out.iterdir() if not is_export_temp(p.name))  # an export killed here
    if entries:
        shown = ", ".join(entries[:3]) + (f", ... ({len(entries)} entries)" if len(entries) > 3 else "")
        raise RobotRLError(
            f"--out {out} is not empty (holds {shown}); choose a new or empty folder, or pass --force to "
            "write the policy into it"
        )


def export_command(args: argparse.Namespace) -> str:
    """The command that repeats this export, with every setting spelled out (for the card)."""
    import shlex

    words = ["robot-rl", NAME, str(args.run_dir), "--out", str(args.out), "--checkpoint", args.checkpoint or "best"]
    words += ["--eval-episodes", str(args.eval_episodes), "--eval-seed", str(args.eval_seed)]
    for flag, value in (("--name", args.name), ("--randomize", args.randomize), ("--opset", args.opset)):
        if value is not None:
            words += [flag, str(value)]
    return shlex.join(words)


def exportable(meta: dict) -> str | None:
    """Why a run's actor cannot become a policy folder (None if it can): the folder's contract is a
    continuous action from the task's own observation."""
    if meta.get("action_space") == "discrete":
        return f"{meta.get('algo')} acts on Discrete actions; export writes continuous actors (ppo, sac, td3, ...)"
    if (meta.get("config") or {}).get("privileged_obs"):
        return (
            "this teacher's actor reads the simulator's privileged state, which a robot does not report; "
            "distill it first: robot-rl distill --teacher RUN --out RUN2"
        )
    if int(meta.get("history", 1)) > 1:
        return f"the student reads {meta['history']} stacked observations; a policy folder takes one (--history 1)"
    return None


def run(args: argparse.Namespace) -> int:
    import torch

    from robot_rl.commands.eval import checkpoint_note
    from robot_rl.export import export_actor
    from robot_rl.train import load_policy

    torch.set_num_threads(1)
    if args.eval_episodes < 0:
        from robot_rl.errors import RobotRLError

        raise RobotRLError(f"--eval-episodes is {args.eval_episodes}; give 0 (skip) or more episodes")
    from robot_rl.export import check_opset

    check_opset(args.opset)  # before anything is loaded or written
    check_export_out(args.out, args.force)
    actor, meta = load_policy(args.run_dir, args.checkpoint)
    if args.checkpoint is None:  # the card's export command names the checkpoint the default picked
        args.checkpoint = meta["checkpoint_kind"]
    refusal = exportable(meta)
    if refusal is not None:
        from robot_rl.errors import RobotRLError

        raise RobotRLError(f"{args.run_dir}: {refusal}")
    meta = {**meta, "run_dir": str(args.run_dir)}
    randomize = args.randomize or meta.get("randomize") or "default"
    print(f"exporting {meta.get('task')} ({meta.get('algo')}, step {meta.get('global_step')}) to {args.out}")
    print(checkpoint_note(meta), flush=True)

    evaluate_fn = None
    if args.eval_episodes > 0:

        def evaluate_fn(folder: Path) -> dict:
            from robot_rl.runtime import load_policy_folder

            def say(condition: str) -> None:
                print(f"  evaluating {args.eval_episodes} episodes: {condition}", flush=True)

            n, seed, robot = args.eval_episodes, args.eval_seed, meta.get("robot")  # a task by kind's robot
            evaluation = evaluate_conditions(load_policy_folder(folder), meta["task"], n, seed, randomize, say,
                                             robot=robot)
            say(f"mujoco + DR {randomize}, behind the default SafetyFilter (robot_rl.runtime.Controller)")
            evaluation["results"][DEPLOYED] = evaluate_behind_safety_filter(
                folder, meta["task"], "mujoco", randomize, n, seed, robot=robot
            )
            policy = load_policy_folder(folder)
            evaluation["robustness"] = evaluate_robustness(policy, meta["task"], n, seed, progress=say, robot=robot)
            if evaluation["robustness"]:  # the same cases in the training engine: a sim2sim check of each
                evaluation["robustness_mujoco"] = evaluate_robustness(policy, meta["task"], n, seed, "mujoco", say,
                                                                      robot=robot)
            terrain = (meta.get("config") or {}).get("terrain")
            if terrain is not None:  # the card lists the ground the policy trained on, and how it did there
                evaluation["terrain"] = evaluate_on_terrain(policy, meta["task"], n, seed, terrain, say, robot=robot)
            return evaluation

    card = export_actor(
        actor,
        meta,
        args.out,
        name=args.name,
        opset=args.opset,
        evaluate_fn=evaluate_fn,
        export_command=export_command(args),
    )
    parity = card["parity"]
    print(
        f"wrote {args.out / 'policy.onnx'} (opset {card['onnx']['opset']}, sha256 {card['onnx']['sha256'][:12]}...) "
        f"and policy.json; parity max |torch - onnx| = "
        f"{max(parity['max_abs_diff_batched'], parity['max_abs_diff_single']):.2g} on {parity['samples']} observations"
    )
    if card["evaluation"]:
        for condition, res in card["evaluation"]["results"].items():
            success = res.get("success_rate")
            print(
                f"  {condition:24s} return {res['mean_return']:9.2f} +- {res['std_return']:7.2f}"
                + (f"  success {success:.2f}" if success is not None else "")
                + (f"  filtered {res['filtered_step_fraction']:.0%} of steps" if condition == DEPLOYED else "")
            )
        for key in ("robustness", "robustness_mujoco"):
            robustness = card["evaluation"].get(key) or {}
            for case, res in robustness.get("cases", {}).items():
                success = res.get("success_rate")
                print(f"  {robustness['engine']}, {case:22s} return {res['mean_return']:9.2f}"
                      + (f"  success {success:.2f}" if success is not None else ""))
    return 0
