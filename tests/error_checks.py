"""Checks shared by the tests of bad input: one clear line, and nothing on disk changed.

Why one module: "a bad input is one line naming what is wrong, and nothing saved is lost" is the same
promise for robot.yaml, params, DR files, cards and every command's output paths (issue 20), so its
tests say it the same way.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path


def assert_one_line(exc: BaseException, *parts: str) -> str:
    """The error's text, asserted to be one line that contains every one of ``parts``."""
    text = str(exc)
    assert "\n" not in text, text
    for part in parts:
        assert part in text, (part, text)
    return text


def one_error_line(err: str, command: str) -> str:
    """A command's stderr, asserted to be the one line ``robot-rl <command>: error: ...`` and no traceback."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"robot-rl {command}: error:"), err
    assert "Traceback" not in err
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes, to compare before and after a refused command."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def policy_with_card(source: Path, dest: Path, edit: Callable[[dict], object]) -> Path:
    """A copy of the policy folder ``source`` at ``dest`` whose policy.json ``edit`` changed in place:
    a tampered or mistaken card, for the checks that must refuse it."""
    shutil.copytree(source, dest)
    card = json.loads((dest / "policy.json").read_text())
    edit(card)
    (dest / "policy.json").write_text(json.dumps(card))
    return dest
