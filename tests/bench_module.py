"""Import a bench script (bench/ is scripts, not a package) as a module, for the tests of its functions."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

BENCH_DIR = Path(__file__).resolve().parents[1] / "bench"


def load_bench(file: str, name: str | None = None) -> ModuleType:
    """bench/<file> as a module named `name` (default: <stem>_bench)."""
    spec = importlib.util.spec_from_file_location(name or f"{Path(file).stem}_bench", BENCH_DIR / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
