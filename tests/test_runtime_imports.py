"""The deploy runtime runs without torch, MuJoCo or PyBullet: a deploy machine needs none of them.

Each check runs in a fresh interpreter, so modules imported by other tests cannot hide an import.
The first only watches sys.modules; the second makes those packages unimportable (as on a machine
where they are not installed) and runs a whole control loop, catching lazy imports too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from robot_rl.algos.modules import GaussianActorCritic
from robot_rl.export import export_actor

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = ("torch", "mujoco", "pybullet")

USE_RUNTIME = """
import json, sys
import numpy as np
import robot_rl.runtime as rt
after_import = sorted({m.split('.')[0] for m in sys.modules} & FORBIDDEN)
ctl = rt.Controller(FOLDER)
q, qd = np.zeros(2), np.zeros(2)
ctl.activate(0.0, q)
outs = [ctl.step(0.02 * k, 0.02 * k, q, qd) for k in range(5)]
assert all(o.state is rt.SafetyState.ACTIVE for o in outs), outs
policy = rt.load_policy_folder(FOLDER)
policy(np.zeros((3, 6), np.float32))
after_use = sorted({m.split('.')[0] for m in sys.modules} & FORBIDDEN)
print(json.dumps({"after_import": after_import, "after_use": after_use}))
"""

BLOCK_IMPORTS = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in FORBIDDEN:
            raise ImportError(f"{name} is not installed on this deploy machine")
        return None
sys.meta_path.insert(0, Block())
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    actor = GaussianActorCritic(6, 1, (16, 16), "tanh", True, 0.0).deterministic()
    out = tmp_path_factory.mktemp("p") / "cartpole"
    export_actor(actor, {"task": "CartpoleSwingup-v0"}, out, parity_samples=10)
    return out


def run_python(code: str, folder: Path) -> dict:
    prelude = f"FORBIDDEN = {set(FORBIDDEN)!r}\nFOLDER = {str(folder)!r}\n"
    proc = subprocess.run([sys.executable, "-c", prelude + code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_runtime_imports_no_torch_mujoco_or_pybullet(folder):
    result = run_python(USE_RUNTIME, folder)
    assert result == {"after_import": [], "after_use": []}


def test_runtime_runs_where_torch_mujoco_and_pybullet_are_missing(folder):
    result = run_python(BLOCK_IMPORTS + USE_RUNTIME, folder)
    assert result["after_use"] == []


def test_the_blocker_itself_works(folder):
    """Guard against a test that cannot fail: with the blocker, importing torch must fail."""
    proc = subprocess.run(
        [sys.executable, "-c", f"FORBIDDEN = {set(FORBIDDEN)!r}\n" + BLOCK_IMPORTS + "import torch"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "not installed on this deploy machine" in proc.stderr
