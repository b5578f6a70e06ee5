"""Shared test settings: one torch thread (2-core machine), deterministic numpy.

Seeds: every test whose verdict depends on a seed's luck (the learning tests) takes its seed through
``tests/seeds.py:test_seed(base)`` (``from seeds import test_seed``), which adds
``ROBOT_RL_TEST_SEED_OFFSET`` (default 0), so ``ROBOT_RL_TEST_SEED_OFFSET=1 make test`` runs the suite on other seeds.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # the runtime tests must pass without torch
    pass


def pytest_report_header(config) -> str:
    """Name the seed offset in the header, so a red run on shifted seeds says which seeds it used."""
    from seeds import ENV_VAR, seed_offset

    return f"{ENV_VAR}={seed_offset()} (every learning test takes its seed through tests/seeds.py:test_seed)"


def pytest_configure(config) -> None:
    """A malformed ROBOT_RL_TEST_SEED_OFFSET stops the run at once, not in the first seeded test."""
    import pytest
    from seeds import seed_offset

    try:
        seed_offset()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
