"""Shared test settings: one torch thread (2-core machine), deterministic numpy."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # the runtime tests must pass without torch
    pass
