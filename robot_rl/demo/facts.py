"""The demo's facts about one robot (`demo_spec`), found from the robot itself, never from its name.

* its kind and the kind's settings: the per-kind table (robot_rl.demo.kinds);
* the task: the kind's task by kind, under the alias id that names this robot where the alias table
  has one (sim.tasks.registry.ALIASES), so the shipped policies' cards and the summaries keep their ids;
* the reality gap the hidden "real" robot has, and what the identification fits: the robot folder's
  `demo.yaml` (`reality_gap:`, optional `fit:`) where it has one, else the kind's rule applied to the
  robot's structure (`derive_gap` of robot_rl.demo.arm, .legged, .pole);
* the shipped policy: the folder under policies/ whose card names this robot and the kind's task.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from robot_rl.demo import config
from robot_rl.demo.kinds import KINDS, KindSettings, kind_of
from robot_rl.demo.spec import DemoSpec
from robot_rl.errors import ConfigError

if TYPE_CHECKING:
    from sim.robot import RobotSpec

DEMO_FILE = "demo.yaml"  # in a robot's folder: the demo's reality gap and fit for this robot (optional)
DEMO_KEYS = ("reality_gap", "fit")


def default_robot() -> str:
    """The robot `robot-rl demo` runs without --robot: the one the alias table binds the first kind's task
    to (the cart-pole's swing-up), so the default follows the registry, not a name written here."""
    from sim.tasks.registry import ALIASES

    task = next(iter(KINDS.values())).task
    return next(robot for t, robot in ALIASES.values() if t == task)


def demo_spec(robot: str | None = None) -> DemoSpec:
    """The DemoSpec of `robot` (a shipped robot's name or a robot.yaml path; None: `default_robot()`)."""
    from sim.robot import ROBOTS_DIR, load_robot

    robot = robot or default_robot()
    loaded = load_robot(robot)
    kind = kind_of(loaded)
    shipped = loaded.yaml_path.resolve() == (ROBOTS_DIR / loaded.name / "robot.yaml").resolve()
    ref = loaded.name if shipped else str(loaded.yaml_path.resolve())
    gap, fit, source = robot_gap(loaded, kind)
    return DemoSpec(robot=ref, name=loaded.name, task=task_id(kind.task, loaded.name) if shipped else kind.task,
                    reality_gap=gap, fit_names=fit, gap_source=source, policy=shipped_policy(loaded.name, kind.task),
                    kind=kind)


def task_id(task: str, robot_name: str) -> str:
    """The alias naming `task` on the shipped robot `robot_name`, else `task` itself."""
    from sim.tasks.registry import ALIASES

    return next((alias for alias, (t, r) in ALIASES.items() if t == task and r == robot_name), task)


def robot_gap(robot: RobotSpec, kind: KindSettings) -> tuple[dict[str, Any], tuple[str, ...], str]:
    """(reality gap, fit names, where they come from): the robot folder's demo.yaml, else the kind's rule."""
    from sim.params import load_yaml_mapping, resolve_params
    from sim.patterns import expand_names

    path = robot.root / DEMO_FILE
    if path.is_file():
        data = load_yaml_mapping(path, "demo settings")
        unknown = sorted(set(data) - set(DEMO_KEYS))
        if unknown:
            raise ConfigError(str(path), unknown[0], f"unknown field; expected {', '.join(DEMO_KEYS)}")
        gap = data.get("reality_gap")
        if not isinstance(gap, dict) or not gap:
            raise ConfigError(str(path), "reality_gap", "missing or empty; expected a params mapping (parameter "
                              "name or glob -> absolute value or {scale: s}): the demo's 'real' robot")
        fit = data.get("fit", list(kind.fit) or list(gap))
        if not isinstance(fit, list) or not all(isinstance(f, str) for f in fit) or not fit:
            raise ConfigError(str(path), "fit", f"got {fit!r}; expected a list of parameter names or globs")
        source = str(path)
    else:
        gap = _derive_gap(robot, kind)
        fit = list(kind.fit) or list(gap)
        source = f"derived for {kind.what} (robot_rl.demo.{kind.kind}.derive_gap; write {path} to choose one)"
    where = str(path) if path.is_file() else source
    try:  # a bad name or value fails here, naming the file and the field
        resolve_params(robot, gap)
    except ConfigError as exc:
        raise ConfigError(where, f"reality_gap.{exc.field}", exc.problem) from None
    expand_names(fit, list(robot.nominal), where, robot.name)
    return dict(gap), tuple(fit), source


def _derive_gap(robot: RobotSpec, kind: KindSettings) -> dict[str, Any]:
    from robot_rl.demo import arm, legged, pole

    rules = {"arm": arm.derive_gap, "legged": legged.derive_gap, "pole": pole.derive_gap}
    return rules[kind.kind](robot)


def shipped_policy(robot_name: str, task: str, policies_dir: Path | None = None) -> Path | None:
    """The folder under policies/ whose card (policy.json) names `robot_name` and `task` (a task by kind,
    or an alias of it); the first by folder name if several, None if none."""
    from sim.tasks.registry import task_spec

    root = policies_dir or config.POLICIES_DIR
    for folder in sorted(p for p in root.glob("*") if (p / "policy.json").is_file()):
        try:
            card = json.loads((folder / "policy.json").read_text(encoding="utf-8"))
            card_robot = card["robot"]["name"] if isinstance(card["robot"], dict) else card["robot"]
            card_task = task_spec(str(card["task"]))
        except (ValueError, KeyError, TypeError, OSError):
            continue  # not a card this lookup can read: `robot-rl policies` reports it
        if card_robot == robot_name and (card_task.alias_of or card_task.id) == task:
            return folder
    return None
