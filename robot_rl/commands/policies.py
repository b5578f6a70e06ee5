"""List exported policies (folders holding policy.onnx + policy.json) with their task, robot and evaluation.

Examples:
  robot-rl policies                      the policies shipped in ./policies/
  robot-rl policies path/to/folder       policy folders under another folder (or one policy folder)
  robot-rl policies --json               one JSON object per line, for scripts

The eval columns are the mean episode return of the ONNX policy recorded in each model card at
export (MuJoCo and PyBullet, nominal physics and under domain randomization; "deployed": MuJoCo +
DR through robot_rl.runtime.Controller, i.e. behind the default SafetyFilter); "ok" in the file
column means policy.onnx still has the SHA-256 its card records. Run one with
`robot-rl eval FOLDER` or `robot-rl deploy --policy FOLDER`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "policies"
HELP = "list exported policies (policy.onnx + policy.json): task, robot, evaluation"

CONDITIONS = ("mujoco", "mujoco_dr", "pybullet", "pybullet_dr", "mujoco_dr_safety_filter")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", nargs="?", type=Path, default=Path("policies"), help="default: ./policies")
    parser.add_argument("--json", action="store_true", help="one JSON object per policy, one per line")


def find_policy_folders(folder: Path) -> list[Path]:
    """`folder` itself if it holds a policy.json, else its sub-folders (any depth) that do, sorted."""
    from robot_rl.runtime.card import CARD_FILE

    if (folder / CARD_FILE).is_file():
        return [folder]
    return sorted(p.parent for p in folder.rglob(CARD_FILE))


def describe(folder: Path) -> dict:
    """One row: what the card says, whether the ONNX file matches it, and the recorded evaluation.

    A card that cannot be read or described is a row with an ``error`` (one line), never an
    exception: one bad folder must not hide the others from the listing.
    """
    from robot_rl.cli import one_line
    from robot_rl.errors import PolicyContractError

    try:
        return _describe(folder)
    except PolicyContractError as exc:
        return {"folder": str(folder), "error": one_line(str(exc))}
    except Exception as exc:  # noqa: BLE001 - a listing reports what it cannot read, and goes on
        return {"folder": str(folder), "error": one_line(f"{folder}: cannot be described ({type(exc).__name__}: "
                                                         f"{exc})")}


def _describe(folder: Path) -> dict:
    from robot_rl.runtime.card import check_onnx_file, read_card

    card, card_path, onnx_path = read_card(folder)
    check_onnx_file(card, card_path, onnx_path)
    integrity = "ok"
    evaluation = card.get("evaluation") or {}
    results = evaluation.get("results") or {}
    training = card.get("training") or {}
    robustness = {}  # engine -> (worst success, its case, number of cases) over robustness.yaml's cases
    for key in ("robustness_mujoco", "robustness"):
        recorded = (evaluation.get(key) or {}).get("cases") or {}
        cases = {name: res["success_rate"] for name, res in recorded.items() if res.get("success_rate") is not None}
        if cases:
            worst = min(cases, key=cases.get)
            robustness[evaluation[key]["engine"]] = (cases[worst], worst, len(cases))
    return {
        "folder": str(folder),
        "name": card.get("name"),
        "task": card.get("task"),
        "robot": card["robot"].get("name"),
        "algo": training.get("algo"),
        "steps": training.get("global_step"),
        "file": integrity,
        "eval": {c: results[c].get("mean_return") for c in CONDITIONS if c in results},
        "success": {c: results[c].get("success_rate") for c in CONDITIONS if c in results},
        "robustness": robustness,
    }


def run(args: argparse.Namespace) -> int:
    import json

    if not args.folder.is_dir():
        from robot_rl.errors import RobotRLError

        raise RobotRLError(f"{args.folder}: no such folder (export a policy with `robot-rl export RUN --out DIR`)")
    rows = [describe(f) for f in find_policy_folders(args.folder)]
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    if not rows:
        print(f"no policies under {args.folder} (export one with `robot-rl export RUN --out {args.folder}/NAME`)")
        return 0
    from rich.console import Console

    console = Console()
    for table in policy_tables(rows, args.folder):
        console.print(table)
    return 0


def policy_tables(rows: list[dict], folder: Path) -> list:
    """Rich tables: what each policy is, then its evaluation at export, then its worst robustness case
    (policies whose card has them); then any errors in full.

    Why two: one table of eleven columns does not fit an 80-column terminal (rich squeezes every
    cell to an ellipsis); split, each stays readable at 80 columns, a success rate under its return.
    """
    from rich.table import Table
    from rich.text import Text

    about = Table(title=f"policies ({folder})")
    for col in ("name", "task", "robot", "algo", "steps", "file"):
        about.add_column(col, no_wrap=col != "file")
    evaluation = Table(
        title="mean return at export (success rate)",
        caption="MuJoCo / PyBullet, nominal and +DR; deployed: MuJoCo + DR behind the default SafetyFilter",
    )
    evaluation.add_column("name", no_wrap=True)
    for col in ("MuJoCo", "+DR", "PyBullet", "+DR", "deployed"):
        evaluation.add_column(col, justify="right")
    errors = []
    for row in rows:
        if "error" in row:  # the message goes under the tables, at full width
            about.add_row(Path(row["folder"]).name, "", "", "", "", "[red]error[/red]")
            errors.append(Text(f"{Path(row['folder']).name}: {row['error']}", style="red"))
            continue
        cells = []
        for c in CONDITIONS:
            ret, success = row["eval"].get(c), row["success"].get(c)
            cells.append("" if ret is None else f"{ret:.1f}" + ("" if success is None else f"\n({success:.0%})"))
        steps = row["steps"]
        about.add_row(
            row["name"], row["task"], row["robot"], row["algo"] or "", "" if steps is None else f"{steps:,}",
            row["file"],
        )  # fmt: skip
        evaluation.add_row(row["name"], *cells)
    gap = Table(title="robustness at export: worst success over the robot's robustness.yaml cases",
                caption="each realistic model error (mass, damping, friction, gain, delay) and all together")
    for col in ("name", "cases", "MuJoCo", "PyBullet"):  # case names have no spaces: fold, never cut
        gap.add_column(col, no_wrap=col == "name", justify="left" if col == "name" else "right", overflow="fold")
    for row in rows:
        worst = row.get("robustness") or {}
        if worst:
            n = max(v[2] for v in worst.values())
            gap.add_row(row["name"], str(n), *(f"{worst[e][0]:.0%}\n{worst[e][1]}" if e in worst else ""
                                               for e in ("mujoco", "pybullet")))
    return [about, *([evaluation] if evaluation.row_count else []), *([gap] if gap.row_count else []), *errors]
