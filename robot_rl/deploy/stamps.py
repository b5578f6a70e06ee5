"""An input stream's header stamps, checked against the control node's own clock.

Why: a stamp is what a robot (or anything else on the network) *claims* about time. A node that
trusted stamps once kept a silent IMU "fresh" for 100 s because one reading said so, and let a
stream stamped 20 ms apart but sent at 500 Hz run its filter ten times a period. The node's own
monotonic clock is the only time it trusts; a stamp is evidence, mapped onto that clock and checked.

Robots and node seldom share a clock (a robot's stamps may count from its boot, a simulator's from
zero), so each stream is mapped with its own offset: ``node time = stamp + offset``. The offset is
learned from the stream -- the smallest ``arrival - stamp`` seen, which is the clock offset plus the
fastest delivery -- and then may only drift slowly (``MAX_DRIFT``, 0.1%: clocks that disagree by
more than that are not clocks). So, on the node's clock:

* a reading whose mapped stamp is later than its arrival by more than ``tolerance`` is *ahead*:
  stamped in the future, or the last of a stream whose stamps advance faster than real time
  (each reading a little further ahead, until the lead passes the tolerance) -- a fault;
* a stamp earlier than the previous one is the stream's clock *going backwards* -- a fault while the
  node drives on the stream (before that, the stream simply starts anew: a robot restarted);
* a reading that arrives late (after a network stall, or queued while the node was stopped) keeps
  its old mapped stamp, so the SafetyFilter's watchdog sees its true age.

While the node is not driving on the stream (``learning``) the offset also follows readings that
arrive sooner than it predicts, however much sooner (the readings before may have queued while the node
started, and arrived in a burst), and re-anchors on a reading later than the tolerance (the first reading
may have been the one stamped ahead): nothing is commanded meanwhile, and the control node activates only
after the stream has flowed a while (``heard_for``). Once driving, a reading further ahead than the
tolerance is a fault, and not learned from. A zero stamp means "not stamped" (ROS tools): the caller's
arrival time is used instead.

Under a simulator (``sim_time``) the stamps *are* the node's clock (ROS ``use_sim_time``: a
lockstep simulator runs faster than real time by design); only a clock going backwards is checked.
"""

from __future__ import annotations

import math

MAX_DRIFT = 1e-3  # s/s the mapping may drift: crystal and NTP slew rates are far below this


class StreamClock:
    """Maps one topic's stamps onto the node's clock and names what is wrong with them."""

    def __init__(self, topic: str, tolerance: float, sim_time: bool = False) -> None:
        self.topic = topic
        self.tolerance = float(tolerance)
        self.sim_time = sim_time
        self.reset()

    def reset(self) -> None:
        """Forget the stream (an operator's reset: a restarted robot may count its stamps anew)."""
        self._offset: float | None = None  # node time - stamp
        self._offset_at = -math.inf  # node time the offset was last moved
        self._last_stamp = -math.inf
        self._first_arrival: float | None = None  # node time of the first reading the mapping rests on

    def heard_for(self, now: float) -> float:
        """Node time (s) since the first reading of the stream the current mapping rests on (0: none yet).

        Why: readings queued while the node started arrive in a burst, each later than it was sent; a
        mapping learned from the burst alone takes that backlog for the stream's delay, and the on-time
        readings after it would read as stamped ahead. Activation waits until the stream has flowed a while.
        """
        return 0.0 if self._first_arrival is None else max(0.0, now - self._first_arrival)

    def map(self, stamp: float, arrived: float, learning: bool) -> tuple[float, str | None]:
        """``(stamp on the node's clock, problem or None)`` for a reading stamped ``stamp`` (s, the
        stream's clock; 0 = unstamped) that arrived at ``arrived`` (s, the node's clock)."""
        if stamp == 0.0:
            return arrived, None
        problem = None
        if stamp < self._last_stamp and learning:
            self.reset()  # a robot restarted (or an earlier reading lied) while nothing was driven: start anew
        elif stamp < self._last_stamp:
            problem = (f"{self.topic}: stamped {self._last_stamp - stamp:.3g} s before the previous reading "
                       "(its clock went backwards); after restarting the robot, send reset")
        if self.sim_time:
            self._last_stamp = max(self._last_stamp, stamp)
            return stamp, problem
        offset = arrived - stamp
        if self._offset is None:
            self._offset, self._offset_at, self._last_stamp = offset, arrived, stamp
            self._first_arrival = arrived
            return arrived, problem
        # The mapping drifts towards this reading by at most MAX_DRIFT per second since it last moved.
        allowance = MAX_DRIFT * max(0.0, arrived - self._offset_at)
        drifted = min(max(offset, self._offset - allowance), self._offset + allowance)
        lead = drifted - offset  # how far this reading is stamped ahead of the mapping
        if lead > self.tolerance and not learning:  # not learned from, nor the next backwards check's reference
            ahead = (f"{self.topic}: stamped {lead:.3g} s ahead of the node's clock (in the future, or advancing "
                     f"faster than real time; tolerance {self.tolerance:g} s)")
            return stamp + drifted, problem or ahead
        self._last_stamp = max(self._last_stamp, stamp)
        if learning and (offset < drifted or offset - drifted > self.tolerance):
            # Sooner than predicted (the readings before it were held up: a start-up backlog), or so late
            # that the mapping must have been wrong (its first reading was the one stamped ahead).
            drifted = offset
        if drifted != self._offset:
            self._offset, self._offset_at = drifted, arrived
        return stamp + drifted, problem
