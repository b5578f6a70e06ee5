"""The policy contract: `policy.json`, the model card that travels with every `policy.onnx`.

One module owns the card's format, so the exporter that writes it and the runtime that checks it
cannot drift apart. The runtime refuses a policy whose card does not match the robot it is asked
to drive (robot, joint order, actuators, control rate, observation layout, action scaling) or
whose ONNX file is not the one the card describes (SHA-256, opset, input and output shapes). Every
refusal names the field at fault and what to do. Standard library and numpy only.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from robot_rl.errors import PolicyContractError
from robot_rl.runtime.card_schema import validate_card
from sim.observations import TaskInterface, task_interface
from sim.robot import RobotSpec
from sim.tasks.registry import ALL_TASKS, TaskRobotError

SCHEMA = "robot-rl/policy-card/1"
CARD_FILE = "policy.json"
ONNX_FILE = "policy.onnx"
INPUT_NAME = "obs"
OUTPUT_NAME = "action"
ACTION_FORMULA = "command = offset + scale * clip(action, -1, 1)"

_POSITION_UNITS = {"prismatic": "m", "revolute": "rad", "continuous": "rad"}
_FORCE_UNITS = {"prismatic": "N", "revolute": "N*m", "continuous": "N*m"}


def joint_units(joint_type: str) -> dict[str, str]:
    """Units of a joint's position, velocity and effort, as the card states them."""
    pos = _POSITION_UNITS[joint_type]
    return {"position": pos, "velocity": f"{pos}/s", "effort": _FORCE_UNITS[joint_type]}


def robot_section(robot: RobotSpec) -> dict[str, Any]:
    """What the card records about the robot: everything the runtime compares, with units."""
    joints = []
    for j in robot.joints:
        joints.append(
            {
                "name": j.name,
                "type": j.type,
                "units": joint_units(j.type),
                "position_limits": list(j.position_limits) if j.position_limits else None,
                "velocity_limit": j.velocity_limit,
                "effort_limit": j.effort_limit,
            }
        )
    actuators = [
        {
            "name": a.name,
            "joint": a.joint,
            "type": a.type,
            "gain": a.gain,
            "kp": a.kp,
            "kd": a.kd,
            "effort_limit": a.effort_limit,
        }
        for a in robot.actuators
    ]
    return {
        "name": robot.name,
        "joint_order": list(robot.joint_names),
        "joints": joints,
        "actuators": actuators,
        "control_hz": robot.control_hz,
    }


def action_section(robot: RobotSpec, interface: TaskInterface) -> dict[str, Any]:
    """The action's meaning: per actuator, what +-1 becomes in physical units."""
    per_actuator = []
    for k, a in enumerate(robot.actuators):
        joint = robot.joint(a.joint)
        if a.type == "force":
            unit = _FORCE_UNITS[joint.type]
            meaning = f"force on joint '{a.joint}' before the motor gain ({unit})"
        else:
            unit = _POSITION_UNITS[joint.type]
            meaning = f"PD target position of joint '{a.joint}' ({unit})"
        per_actuator.append(
            {
                "actuator": a.name,
                "joint": a.joint,
                "type": a.type,
                "unit": unit,
                "meaning": meaning,
                "offset": float(interface.action_offset[k]),
                "scale": float(interface.action_scale[k]),
            }
        )
    return {
        "size": interface.action_size,
        "range": [-1.0, 1.0],
        "to_command": ACTION_FORMULA,
        "offset": [float(v) for v in interface.action_offset],
        "scale": [float(v) for v in interface.action_scale],
        "actuators": per_actuator,
    }


def observation_section(interface: TaskInterface, normalization: str) -> dict[str, Any]:
    layout, start = [], 0
    for field in interface.layout_dicts():
        layout.append({**field, "start": start})
        start += field["size"]
    return {
        "size": interface.obs_size,
        "dtype": "float32",
        "layout": layout,
        "command_size": interface.command_size,
        "built_by": f"sim.observations.task_interface('{interface.task}').build(q, qd, last_action, command)",
        "normalization": normalization,
    }


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_card(policy_dir: str | Path) -> tuple[dict[str, Any], Path, Path]:
    """Read and structurally check `policy.json`; returns (card, card path, onnx path)."""
    folder = Path(policy_dir)
    card_path = folder / CARD_FILE if folder.is_dir() or folder.suffix != ".json" else folder
    if not card_path.is_file():
        raise PolicyContractError(
            f"{card_path}: no model card; a policy folder holds {CARD_FILE} and {ONNX_FILE} "
            "(write them with `robot-rl export RUN_DIR --out FOLDER`)"
        )
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except RecursionError:  # json's decoder recurses per level: a hostile 50k-deep card
        raise PolicyContractError(f"{card_path}: not valid JSON (nested too deeply to read); re-export the "
                                  "policy") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, an integer of 5000 digits, bad UTF-8
        raise PolicyContractError(f"{card_path}: not valid JSON ({exc}); re-export the policy") from None
    except OSError as exc:
        raise PolicyContractError(f"{card_path}: cannot be read ({exc.strerror or exc})") from None
    if not isinstance(card, dict) or card.get("schema") != SCHEMA:
        found = card.get("schema") if isinstance(card, dict) else type(card).__name__
        raise PolicyContractError(f"{card_path}: field 'schema' is {found!r}; this runtime reads '{SCHEMA}'")
    validate_card(card, card_path)  # every field typed and in range (card_schema.py), one line if not
    onnx_path = card_path.parent / card["onnx"].get("file", ONNX_FILE)
    if not onnx_path.is_file():
        raise PolicyContractError(f"{card_path}: the ONNX file it describes, {onnx_path}, is missing")
    return card, card_path, onnx_path


def check_onnx_file(card: dict[str, Any], card_path: Path, onnx_path: Path) -> bytes:
    """Hash and opset of the ONNX file against the card; returns the file's bytes."""
    data = onnx_path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    expected = card["onnx"].get("sha256")
    if digest != expected:
        raise PolicyContractError(
            f"{onnx_path}: SHA-256 is {digest[:16]}..., but {card_path.name} field "
            f"'onnx.sha256' says {str(expected)[:16]}...; the file was changed or belongs to "
            "another policy (re-export it)"
        )
    opsets = onnx_opsets(data)
    opset = card["onnx"].get("opset")
    if opsets.get("") != opset:
        raise PolicyContractError(
            f"{onnx_path}: imports ONNX opset {opsets.get('')}, but {card_path.name} field 'onnx.opset' says {opset}"
        )
    return data


def check_card_against_robot(card: dict[str, Any], robot: RobotSpec, where: str) -> TaskInterface:
    """Refuse a policy trained for another robot, joint order, rate, observation or action scaling.

    Returns the task's interface for this robot (built only once the robot itself matches, since a
    task's observation function may not even apply to another robot). The card's task may be an alias
    bound to its robot (IiwaReach-v0) or a task by kind (Reach-v0): either way the robot's name, joints
    and actuators must be the card's, so a Reach policy for one arm never drives another.
    """
    task = str(card.get("task", "")).removeprefix("robot_rl/")
    if task not in ALL_TASKS:
        raise PolicyContractError(
            f"{where}: task '{task}' is not one of our tasks (sim.tasks.registry), whose observation functions "
            f"the runtime shares (known tasks: {', '.join(ALL_TASKS)})"
        )
    r = card["robot"]
    if r.get("name") != robot.name:
        raise PolicyContractError(
            f"{where}: policy was trained for robot '{r.get('name')}', but is asked to drive "
            f"robot '{robot.name}' ({robot.yaml_path})"
        )
    _compare_names(r.get("joint_order"), list(robot.joint_names), "joint", "robot.joint_order", robot, where)
    card_acts = [(a.get("name"), a.get("joint"), a.get("type")) for a in r.get("actuators", [])]
    robot_acts = [(a.name, a.joint, a.type) for a in robot.actuators]
    if card_acts != robot_acts:
        raise PolicyContractError(
            f"{where}: field 'robot.actuators' (name, joint, type) is {card_acts}, but "
            f"{robot.yaml_path} defines {robot_acts}; the policy's commands would mean "
            "something else on this robot"
        )
    hz = r.get("control_hz")
    if not isinstance(hz, (int, float)) or not math.isclose(hz, robot.control_hz, rel_tol=1e-9):
        raise PolicyContractError(
            f"{where}: policy was trained at control_hz {hz}, but {robot.yaml_path} says "
            f"{robot.control_hz:g}; run it at its own rate (or retrain)"
        )
    try:
        interface = task_interface(task, robot)
    except TaskRobotError as exc:
        raise PolicyContractError(f"{where}: {exc}") from None
    expected_layout = interface.layout_dicts()
    card_layout = [
        {k: f.get(k) for k in ("name", "size", "unit", "description")} for f in card["observation"].get("layout", [])
    ]
    for i, (got, want) in enumerate(zip(card_layout, expected_layout, strict=False)):
        if got != want:
            diff = ", ".join(f"{k} {got.get(k)!r} vs {want[k]!r}" for k in want if got.get(k) != want[k])
            raise PolicyContractError(
                f"{where}: observation field {i} differs from what "
                f"task_interface('{interface.task}') builds for robot '{robot.name}': {diff}; "
                "the policy was trained on another observation (re-export or retrain)"
            )
    if len(card_layout) != len(expected_layout):
        raise PolicyContractError(
            f"{where}: observation has {len(card_layout)} fields, but "
            f"task_interface('{interface.task}') builds {len(expected_layout)}: "
            f"{[f['name'] for f in expected_layout]}"
        )
    action = card["action"]
    for key, values in (("offset", interface.action_offset), ("scale", interface.action_scale)):
        card_values = action.get(key)
        if not isinstance(card_values, list) or len(card_values) != len(values):
            raise PolicyContractError(
                f"{where}: field 'action.{key}' is {card_values!r}; expected {len(values)} numbers"
            )
        for a, c, v in zip(robot.actuators, card_values, values, strict=True):
            if not math.isclose(float(c), float(v), rel_tol=1e-9, abs_tol=1e-12):
                raise PolicyContractError(
                    f"{where}: action {key} of actuator '{a.name}' is {c:g} in the card but {float(v):g} from "
                    f"{robot.yaml_path} (limits or gains changed since export); re-export the policy for this "
                    "robot description"
                )
    return interface


def _compare_names(
    card_names: Any, robot_names: list[str], kind: str, field: str, robot: RobotSpec, where: str
) -> None:
    if card_names == robot_names:
        return
    if not isinstance(card_names, list):
        raise PolicyContractError(f"{where}: field '{field}' is {card_names!r}; expected a list of {kind} names")
    missing = [n for n in card_names if n not in robot_names]
    extra = [n for n in robot_names if n not in card_names]
    if missing or extra:
        raise PolicyContractError(
            f"{where}: {kind}s differ from robot '{robot.name}': the policy expects "
            f"{missing or 'no others'} which the robot lacks, and the robot has "
            f"{extra or 'no others'} which the policy does not know"
        )
    i = next(i for i, (a, b) in enumerate(zip(card_names, robot_names, strict=True)) if a != b)
    raise PolicyContractError(
        f"{where}: {kind} order differs at index {i}: the policy expects '{card_names[i]}', "
        f"{robot.yaml_path} has '{robot_names[i]}' (policy order: {card_names})"
    )


# ---------------------------------------------------------------------------------------------------------------
# Reading the opset from the ONNX file without the onnx package: ModelProto is a protobuf message whose
# field 8 (opset_import) holds OperatorSetIdProto {1: domain (string), 2: version (int64)}.


def _varint(data: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(data: bytes):
    """Yield (field number, wire type, value) of a protobuf message; length-delimited values as bytes."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        elif wire == 2:
            length, i = _varint(data, i)
            value, i = data[i : i + length], i + length
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if i > len(data):
            raise ValueError("truncated field")
        yield number, wire, value


def onnx_opsets(data: bytes) -> dict[str, int]:
    """The operator-set imports of an ONNX model file: domain ('' = the default ONNX domain) -> version."""
    opsets: dict[str, int] = {}
    try:
        for number, wire, value in _fields(data):
            if number == 8 and wire == 2:
                domain, version = "", 0
                for n, w, v in _fields(value):
                    if n == 1 and w == 2:
                        domain = v.decode()
                    elif n == 2 and w == 0:
                        version = v
                opsets[domain] = version
    except (ValueError, UnicodeDecodeError) as exc:
        raise PolicyContractError(f"not a readable ONNX model ({exc}); re-export the policy") from None
    return opsets
