"""The files of a robot folder, written from a `RobotPlan` (`robot-rl robots import`).

robot.yaml, randomization/default.yaml and robustness.yaml, each commented with how its values were
made and `# CHECK:` where the user must look. `write_robot_folder` validates the three files with
the stack's own loaders (`load_robot`, `load_randomization`, `resolve_params`) before any of them
lands in the folder, and never replaces a file an earlier import wrote (which the user may have
edited since) unless forced.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import site
import textwrap
from pathlib import Path

from sim.errors import ConfigError
from sim.robot_import import ARM_GAP, CONTROL_HZ, LEGGED_GAP, SAG_CHECK_RAD, JointPlan, RobotPlan

FILES = ("robot.yaml", "randomization/default.yaml", "robustness.yaml")


# ------------------------------------------------------------------------------------------ formatting


def _num(x: float) -> str:
    """A number as YAML that reads back as a float, to 4 significant figures (never `-0.0`)."""
    text = f"{x + 0.0:.4g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        text = f"{mantissa if '.' in mantissa else mantissa + '.0'}e{int(exp)}"
    elif "." not in text and "inf" not in text and "nan" not in text:
        text += ".0"
    return "0.0" if text in ("-0.0", "-0") else text


def _range(r: tuple[float, float]) -> str:
    return f"[{_num(r[0])}, {_num(r[1])}]"


def _yaml_str(text: str) -> str:
    """A string as YAML: plain when it reads back as itself, double-quoted on one line otherwise."""
    import yaml

    from sim.validation import load_yaml_text

    try:
        if load_yaml_text(text) == text and not text.startswith(("{", "[", "*", "&", "!", "|", ">", "'", '"', "%")):
            return text
    except ConfigError:
        pass
    return yaml.safe_dump(text, default_style='"', width=10_000).strip()


def _comment(text: str, prefix: str = "# ") -> str:
    return "\n".join(textwrap.wrap(text, width=100, initial_indent=prefix, subsequent_indent=prefix,
                                   break_on_hyphens=False, break_long_words=False))


def urdf_reference(urdf_path: Path, out: Path) -> str:
    """How robot.yaml names the URDF (the text after `urdf:`): `{package, path}` inside an installed
    Python package (pybullet_data), so the folder survives a new virtualenv; a path relative to
    robot.yaml when the folder is near the URDF (at most two `..`), so both can move together; an
    absolute path otherwise."""
    urdf_path, out = urdf_path.resolve(), Path(out).resolve()
    for folder in {Path(p).resolve() for p in (*site.getsitepackages(), site.getusersitepackages()) if p}:
        try:
            rel = urdf_path.relative_to(folder)
        except ValueError:
            continue
        package = rel.parts[0] if len(rel.parts) >= 2 else ""
        spec = importlib.util.find_spec(package) if package.isidentifier() else None
        if spec is not None and spec.submodule_search_locations and \
                Path(list(spec.submodule_search_locations)[0]).resolve() == folder / package:
            return (f"\n  package: {package}          # installed python package whose folder holds the file\n"
                    f"  path: {_yaml_str(Path(*rel.parts[1:]).as_posix())}")
    rel_text = Path(os.path.relpath(urdf_path, out)).as_posix()
    if Path(rel_text).parts.count("..") <= 2:
        return f" {_yaml_str(rel_text)}   # relative to this file"
    return f" {_yaml_str(urdf_path.as_posix())}"


def mesh_problem(plan: RobotPlan) -> str | None:
    """Why the URDF's meshes cannot be found from a robot.yaml without `packages:`, or None.

    `package://<pkg>/...` is found in the URDF's folder tree, ROS_PACKAGE_PATH, AMENT_PREFIX_PATH or
    an installed Python package (sim.packages); a package elsewhere needs robot.yaml's `packages:`."""
    from sim.packages import PackageResolver, resolve_mesh_files
    from sim.urdf import read_urdf

    try:
        resolve_mesh_files(read_urdf(plan.urdf_path).meshes, PackageResolver(plan.urdf_path, {}),
                           str(plan.urdf_path))
    except ConfigError as exc:
        return str(exc)
    return None


def unresolved_package(problem: str) -> str | None:
    """The ROS package a `mesh_problem` could not find ("package 'X' ..."), or None (another problem)."""
    import re

    m = re.search(r"package '([^']+)'", problem)
    return m.group(1) if m else None


# ------------------------------------------------------------------------------------------ robot.yaml


def robot_yaml_text(plan: RobotPlan, out: Path, problem: str | None = None) -> str:
    """The commented robot.yaml; `problem`: a `mesh_problem`, written as a CHECK with a `packages:` stub."""
    lines = [
        _comment(f"{plan.name}: written by `robot-rl robots import` from {plan.urdf_path}. Detected: {plan.kind} "
                 f"({plan.kind_reason}). Edit the lines marked CHECK, then validate: `robot-rl robots "
                 f"{Path(out).as_posix()}`. Joint position, velocity and effort limits not written here come from "
                 "the URDF."),
        f"name: {_yaml_str(plan.name)}",
        f"description: {_yaml_str(_description(plan))}",
        f"urdf:{urdf_reference(plan.urdf_path, out)}",
    ]
    if problem is not None:
        lines.append(_comment(f"CHECK: {problem}"))
        pkg = unresolved_package(problem)
        if pkg is not None:
            lines += ["# packages:", f"#   {pkg}: path/to/{pkg}   # relative to this file"]
    substeps = int(round(1 / (CONTROL_HZ * plan.physics_dt)))
    lines += [
        f"control_hz: {_num(CONTROL_HZ)}        # policy rate (the iiwa's and the A1's)",
        f"physics_dt: {plan.physics_dt:g}       # s: {substeps} physics steps per control step",
    ]
    bound = (f"(kd + damping) * physics_dt / I reaches {plan.stability:.2g} under the gap class "
             + ("(links -40%, damping x3)" if plan.kind == "arm" else "(kd +30%)")
             + "; the explicit step needs < 2, and a margin of two is kept")
    if plan.kind == "arm":
        if plan.integrator == "implicit":
            lines += [_comment(f"Light distal links: {bound}, so damping and the servos' kd are integrated at the "
                               "end-of-step velocity in both engines (sim.robot.INTEGRATORS), as for the iiwa."),
                      "integrator: implicit"]
        else:
            lines.append(_comment(f"{bound}: the explicit step (the default) is stable; `integrator: implicit` if "
                                  "lighter links push it past 1."))
        lines += ["contacts: false         # an arm in free space: contacts off in both engines",
                  f"end_effector: {plan.end_effector}     # the link whose position the Reach task reads"]
    else:
        lines += [_comment(f"{bound} (a floating base has no implicit step: a shorter physics_dt if it must)."),
                  "contacts: true          # the feet touch the floor",
                  "base:",
                  f"  link: {plan.base_link}          # the URDF root: a free joint in MuJoCo, a free base in PyBullet",
                  f"  height: {_num(plan.height)}         # m, the root above the lowest foot in default_pose "
                  "(feet just touching)",
                  "imu:",
                  f"  link: {plan.imu_link}",
                  f"feet: [{', '.join(plan.feet)}]     # the lowest leaf link of each leg",
                  "floor:",
                  "  friction: 1.0          # sliding friction of floor contacts (parameter floor.friction)",
                  _comment(f"rad (m for prismatic joints); an action of 0 commands this pose. "
                           f"{plan.pose_rule[:1].upper()}{plan.pose_rule[1:]}."),
                  "default_pose:"]
        lines += [f"  {n}: {_num(v)}" for n, v in plan.default_pose.items()]
    lines += [_comment("Command/state order: every moving joint of the URDF in tree order (depth first)."),
              "joints:"]
    for jp in plan.joints:
        lines.append(_joint_line(jp))
    if plan.held:
        lines += [_comment("URDF joints not listed above, held still at these positions (rad or m) in both "
                           "engines: the gripper. Edit a position to hold it elsewhere (a finger open), or move a "
                           "joint into joints: (with an actuator) to drive it."),
                  "held:"]
        lines += [f"  {n}: {_num(plan.held_positions[n])}   # {why}" for n, why in plan.held.items()]
    lines += [_comment(f"PD position servos; effort limits from the joints. I_eff: {plan.inertia_rule}. Gains: "
                       f"{plan.gain_rule}. A URDF has no motor rotor inertia (reflected through the gear it makes a "
                       "real servo's I_eff larger): raise kp and kd together if your servo is stiffer. Each line: "
                       "I_eff and the bandwidth the gains give."),
              "actuators:"]
    for jp in plan.joints:
        unit = "kg" if jp.type == "prismatic" else "kg m^2"
        note = f"I_eff {jp.inertia:.3g} {unit}, {jp.bandwidth_hz:.2g} Hz"
        if jp.capped:
            note += f" (kp capped at effort / {SAG_CHECK_RAD:g} rad)"
        lines.append(f"  - {{name: {jp.name}, joint: {jp.name}, type: position, kp: {_num(jp.kp)}, "
                     f"kd: {_num(jp.kd)}}}   # {note}")
    lines += ["nominal:                 # physical values not in the URDF (the parameter vocabulary)",
              "  action_delay: 0.0      # s between a command and its effect: identify it (robot-rl sysid)",
              "  obs_noise: 0.0         # std of the noise on joint readings"]
    lines += [_comment(note) for note in plan.notes]
    return "\n".join(lines) + "\n"


def _joint_line(jp: JointPlan) -> str:
    """`- {name, type[, limits the URDF lacks]}   # the URDF's limits, or CHECK: what was assumed`."""
    entry = f"name: {jp.name}, type: {jp.type}"
    if not jp.urdf_limits and jp.limits is not None:
        entry += f", position_limits: {_range(jp.limits)}"
    if any(c.startswith("velocity") for c in jp.checks):
        entry += f", velocity_limit: {_num(jp.velocity)}"
    if any(c.startswith("effort") for c in jp.checks):
        entry += f", effort_limit: {_num(jp.effort)}"
    unit = ("m", "m/s", "N") if jp.type == "prismatic" else ("rad", "rad/s", "N*m")
    lim = "unlimited" if jp.limits is None else f"{_range(jp.limits)} {unit[0]}"
    comment = f"{lim}, {jp.velocity:g} {unit[1]}, {jp.effort:g} {unit[2]}"
    if jp.checks:
        comment = "CHECK: " + "; ".join(jp.checks)
    return f"  - {{{entry}}}   # {comment}"


def _description(plan: RobotPlan) -> str:
    source = f"imported from {plan.urdf_path.name}"
    if plan.kind == "legged":
        return f"legged robot, floating base, {len(plan.joints)} joint PD position servos, {len(plan.feet)} feet " \
               f"({source})"
    return f"{len(plan.joints)}-DoF arm, joint PD position servos ({source})"


# ------------------------------------------------------------------------------ randomization, robustness


def _per_joint(plan: RobotPlan, parameter: str, value, indent: str) -> list[str]:
    """`<joint>.<parameter>: value` for every listed joint, or one `"*.<parameter>"` line when the
    values are all the same (the pattern names the listed joints' parameters, nothing else)."""
    values = [value(jp) for jp in plan.joints]
    if len(set(values)) == 1:
        return [f'{indent}"*.{parameter}": {values[0]}']
    return [f"{indent}{jp.name}.{parameter}: {v}" for jp, v in zip(plan.joints, values, strict=True)]


def _friction_gap(jp: JointPlan) -> float:
    """Dry friction of the arm gap class: 1 N*m per joint, at most a tenth of a small joint's effort."""
    return min(ARM_GAP["friction"], 0.1 * jp.effort)


def _damping_gap(jp: JointPlan) -> str:
    """Joint damping x3; where the URDF has none (x3 of nothing is nothing), 15% of the servo's kd."""
    return "{scale: 3.0}" if jp.damping > 0 else _num(0.15 * jp.kd)


def _damping_range(jp: JointPlan) -> str:
    if jp.damping > 0:
        return "{scale_uniform: [0.5, 3.5]}"
    return f"{{uniform: [0.0, {_num(0.2 * jp.kd)}]}}   # CHECK: the URDF has no damping; up to kd / 5"


def randomization_text(plan: RobotPlan) -> str:
    """randomization/default.yaml: the issue's gap class for this kind of robot, with margin."""
    if plan.kind == "legged":
        base, com = plan.base_link, round(LEGGED_GAP["com"] * 1.5, 3)
        return "\n".join([
            _comment(f"Default domain randomization for {plan.name}, written by `robot-rl robots import`: the "
                     "legged gap class (trunk +30% with its centre of mass moved, floor friction x0.5, motors -15%, "
                     "kd +30%, 25 ms latency, sensor noise), each range a little wider than the gap so that its "
                     "edge is inside the training distribution. Glob patterns name groups of parameters."),
            "parameters:",
            f"  {base}.mass: {{scale_uniform: [0.85, 1.4]}}     # payload and battery spread",
            f"  {base}.com_x: {{uniform: [{-com}, {com}]}}          # m, signed offsets of the base's centre of mass",
            f"  {base}.com_y: {{uniform: [{-com}, {com}]}}",
            "  floor.friction: {uniform: [0.4, 1.25]}",
            '  "*.kp": {scale_uniform: [0.85, 1.15]}',
            '  "*.kd": {scale_uniform: [0.8, 1.4]}',
            '  "*.gain": {scale_uniform: [0.8, 1.1]}           # motor strength',
            "  action_delay: {uniform: [0.0, 0.03]}",
            "  obs_noise: {uniform: [0.0, 0.02]}",
            "initial_state:",
            "  position: 0.1          # rad about the default pose, every joint",
            "  velocity: 0.1",
            "push:",
            "  probability: 0.004     # per control step: about one kick every 5 s",
            "  base_velocity: [0.5, 0.5, 0.0]   # m/s, max kick of the base's linear velocity (x, y, z)",
        ]) + "\n"
    tool, mass = plan.tool_link, plan.link_masses[plan.tool_link]
    lines = [
        _comment(f"Default domain randomization for {plan.name}, written by `robot-rl robots import`: the arm gap "
                 "class (link masses +-40% and a 0.5 kg tool, joint damping x3, joint friction up to 1 N*m, latency "
                 "up to 30 ms), each range a little wider than the gap so that its edge is inside the training "
                 "distribution, plus servo gain spread and encoder noise."),
        "parameters:",
        _comment("Every link shares one scale factor in half of the episodes (shared: 0.5) and is drawn on its own "
                 "in the other half: independent draws almost never make the whole arm light at once, where the "
                 "iiwa's policy trained without shared draws failed.", prefix="  # "),
        '  "*.mass": {scale_uniform: [0.5, 1.5], shared: 0.5}',
        f"  {tool}.mass: {{uniform: [{_num(0.5 * mass)}, {_num(1.5 * mass + 0.6)}]}}"
        f"   # the tool link ({_num(mass)} kg): -50% to +50% and a 0.6 kg tool",
        *_per_joint(plan, "damping", _damping_range, "  "),
        *_per_joint(plan, "frictionloss", lambda jp: f"{{uniform: [0.0, {_num(1.2 * _friction_gap(jp))}]}}", "  "),
        '  "*.gain": {scale_uniform: [0.9, 1.1]}',
        "  action_delay: {uniform: [0.0, 0.04]}   # s: up to two control periods at 50 Hz",
        "  obs_noise: {uniform: [0.0, 0.002]}",
        "initial_state:",
        "  position: 0.1",
        "  velocity: 0.05",
    ]
    return "\n".join(lines) + "\n"


def robustness_text(plan: RobotPlan) -> str:
    """robustness.yaml: the gap class one error at a time and all together (what `robot-rl export`
    evaluates a policy under, in both engines, and records in its card)."""
    if plan.kind == "legged":
        b, g = plan.base_link, LEGGED_GAP
        trunk, com = f"{b}.mass: {{scale: {1 + g['trunk']:g}}}", f"{b}.com_x: {g['com']:g}"
        floor, motor = f"floor.friction: {g['floor']:g}", f'"*.gain": {{scale: {g["motor"]:g}}}'
        kd, delay = f'"*.kd": {{scale: {g["kd"]:g}}}', f"action_delay: {g['delay']:g}"
        noise = f"obs_noise: {g['noise']:g}"
        return "\n".join([
            _comment(f"The legged gap class for {plan.name} (issue 22), one error at a time and all together. "
                     "`robot-rl export` evaluates a policy under each case in both engines and records the results "
                     "in the model card. obs_noise is the sensor noise std (rad on joint positions; scaled per "
                     "channel for velocities and the IMU)."),
            "cases:",
            f"  trunk_+30%_com_moved: {{{trunk}, {com}}}",
            f"  floor_friction_0.5x: {{{floor}}}",
            f"  motor_strength_-15%: {{{motor}}}",
            f"  kd_+30%: {{{kd}}}",
            f"  latency_25ms: {{{delay}}}",
            f"  sensor_noise: {{{noise}}}",
            "  all_at_once:",
            *(f"    {error}" for error in (trunk, com, floor, motor, kd, delay, noise)),
        ]) + "\n"
    tool, mass = plan.tool_link, plan.link_masses[plan.tool_link]
    heavy, light = 1.4 * mass + ARM_GAP["tool_kg"], 0.6 * mass
    damping = _per_joint(plan, "damping", _damping_gap, "    ")
    friction = _per_joint(plan, "frictionloss", lambda jp: _num(_friction_gap(jp)), "    ")

    def together(name: str, scale: float, tool_mass: float) -> list[str]:
        return [f"  {name}:", f'    "*.mass": {{scale: {scale:g}}}', f"    {tool}.mass: {_num(tool_mass)}",
                *damping, *friction, f"    action_delay: {ARM_GAP['delay']:g}"]

    return "\n".join([
        _comment(f"The arm gap class for {plan.name} (issue 22): link masses +-40% with a 0.5 kg tool on '{tool}', "
                 "joint damping x3 (where the URDF has none: 15% of the servo's kd), joint friction of 1 N*m (a "
                 "tenth of the effort limit on smaller joints), 30 ms latency; one error at a time and all "
                 "together. `robot-rl export` evaluates a policy under each case in both engines and records the "
                 "results in the model card."),
        "cases:",
        "  links_+40%_tool_0.5kg:", '    "*.mass": {scale: 1.4}', f"    {tool}.mass: {_num(heavy)}",
        "  links_-40%:", '    "*.mass": {scale: 0.6}', f"    {tool}.mass: {_num(light)}",
        "  joint_damping_x3:", *damping,
        "  joint_friction_1Nm:", *friction,
        f"  command_delay_30ms: {{action_delay: {ARM_GAP['delay']:g}}}",
        *together("all_heavy_+40%_tool_damping_x3_friction_delay_30ms", 1.4, heavy),
        *together("all_light_-40%_damping_x3_friction_delay_30ms", 0.6, light),
    ]) + "\n"


# ------------------------------------------------------------------------------------------ writing


def check_out(out: str | Path, force: bool) -> None:
    """Refuse an --out that is a file, or that holds any of the files an import writes (unless force)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(str(out), "", "--out is a file, not a folder; choose a folder for robot.yaml")
    existing = [f for f in FILES if (out / f).exists()]
    if existing and not force:
        raise ConfigError(str(out), "", f"already holds {', '.join(existing)}; choose a new --out, or pass --force "
                          "to replace them (edits made in them are lost)")


def write_robot_folder(plan: RobotPlan, out: str | Path, force: bool = False) -> tuple[list[Path], str | None]:
    """Write the three files; returns (the files, a `mesh_problem` or None).

    They are composed in a sibling folder (so a relative URDF path means the same there), validated
    there, and only then moved into `out`: a failure leaves `out` as it was. Without a mesh problem,
    robot.yaml is loaded by `load_robot`, the randomization by `load_randomization` and every
    robustness case by `resolve_params`. With one, robot.yaml cannot load until the user adds the
    `packages:` entry it names, so the files are written unvalidated for that edit.
    """
    from sim.params import resolve_params
    from sim.randomization import load_randomization
    from sim.robot import load_robot
    from sim.validation import load_yaml_text

    out = Path(out).expanduser()
    check_out(out, force)
    problem = mesh_problem(plan)
    texts = {"robot.yaml": robot_yaml_text(plan, out, problem), "randomization/default.yaml": randomization_text(plan),
             "robustness.yaml": robustness_text(plan)}
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.import-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for rel, text in texts.items():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_text(text)
        if problem is None:
            robot = load_robot(staging / "robot.yaml")
            load_randomization(robot, "default")
            cases = load_yaml_text(texts["robustness.yaml"], str(staging / "robustness.yaml"))["cases"]
            for case in cases.values():
                resolve_params(robot, case)
        written = []
        for rel in FILES:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, out / rel)
            written.append(out / rel)
        return written, problem
    finally:
        shutil.rmtree(staging, ignore_errors=True)
