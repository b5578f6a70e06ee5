"""The control node's monotonic clock in unit tests, moved by the test (and by the node's own sleeps).

Why shared: the node tests of every command source (policy, excitation, controller) must drive one node
on one notion of time, so a change in how the node reads its clock is tested the same way everywhere.
"""

from __future__ import annotations


class FakeClock:
    """Node time in seconds: read by calling it; `advance` (and the node's `sleep`, e.g. while a stopping
    node waits for its safe action to settle) moves it forward."""

    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt

    sleep = advance
