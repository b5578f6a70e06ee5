"""Shared by the stop-signal tests: start children as a background shell job would, and wait with a log."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Start children as a shell's `&` does: SIGINT ignored, a disposition exec keeps."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str, log: Path) -> None:
    """Poll `condition` until true; AssertionError with the tail of `log` after `timeout_s`."""
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)
