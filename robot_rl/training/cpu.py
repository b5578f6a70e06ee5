"""Process settings that make small-network training fast on a CPU, held only while training runs.

Both are measured, not folklore (SAC on Pendulum-v1, 128x128 nets, 1 torch thread, this machine):

* **Denormals flushed to zero.** Adam's first moment of a dead ReLU unit (zero gradient, forever)
  decays by 0.9 per step and reaches the denormal range (< 1.2e-38) after ~800 updates. x86
  arithmetic on denormals takes a slow microcode path: the fused Adam step of a SAC critic went
  from 21 us to 237 us once its state held ~5k such values, about 5% of a whole update. Numbers
  that small are zero for every purpose of training; flushing them changes no learning curve
  (the same seed reaches the same return at the same step).
* **Startup objects frozen out of the cyclic garbage collector.** torch, gymnasium and the
  simulators leave ~290k long-lived Python objects; every full collection triggered by the
  autograd graphs of the update loop walks all of them. ``gc.freeze()`` moves them to a permanent
  generation: 3-5% of a SAC update.

Both are process-wide state, so ``cpu_training_settings()`` restores them on exit: a notebook or a
test session that calls ``train()`` gets its floating-point and GC behaviour back. Flushing
denormals is per thread (the MXCSR register): it holds for the calling thread, which is where
training runs with one torch thread (the default here).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import torch


def denormals_flushed() -> bool:
    """Whether this thread currently flushes denormal floats to zero (probed, torch has no getter)."""
    return bool(torch.tensor(1e-39, dtype=torch.float32).item() == 0.0)


@contextmanager
def cpu_training_settings() -> Iterator[None]:
    """Denormals flushed to zero and startup objects frozen for the duration; both restored after.

    Enter it once everything long-lived is built (envs, networks, buffers), around the training loop.
    """
    was_flushed = denormals_flushed()
    gc.collect()
    gc.freeze()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(was_flushed)
        gc.unfreeze()
