"""Policy node latency over DDS: JointState in -> command out, against a bare DDS echo.

Two processes on loopback, an isolated DDS domain: this one plays the robot (publishes a
JointState, times the Float64MultiArray that answers it, from ``write`` to the reply's
listener callback), the other hosts, on one DDS participant, both the policy node (policy +
SafetyFilter, `robot_rl.deploy.policy_node`) and a bare echo that answers each state without
computing anything (`robot_rl.deploy.echo`). The echo's round trip is the transport's floor; the
node's minus the echo's is our code's cost. Reported at 50 Hz and 500 Hz: round-trip p50/p99/max
and control-period jitter (|interval between replies - period|, what the robot sees).

The 500 Hz run drives the 50 Hz policy with states stamped 20 ms apart (robot time), so the node
steps every state at 500 Hz wall rate without changing the policy's contract. That stream runs ten
times faster than real time, which a node on a robot's clock faults on; the echo process runs the
node on sim time (as ``--sim`` does), a simulator's clock.

Target: node round trip at 500 Hz p99 <= 1.5 ms and <= 0.5 ms above the echo's p99.

    python bench/node_latency.py [--policy policies/cartpole_swingup] [--seconds 5]

Prints JSON. The machine is shared and noisy: the load average is reported with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from robot_rl.deploy import procs  # noqa: E402
from robot_rl.deploy.latency import RoundTripDriver  # noqa: E402

TARGET_P99_MS = 1.5
TARGET_ABOVE_ECHO_MS = 0.5


def find_policy(explicit: str | None, scratch: Path) -> tuple[Path, str]:
    """The policy to benchmark: the given one, the shipped swing-up policy, or the reference controller."""
    if explicit:
        return Path(explicit), "given"
    shipped = ROOT / "policies" / "cartpole_swingup"
    if (shipped / "policy.json").is_file():
        return shipped, "policies/cartpole_swingup"
    from robot_rl.deploy.reference_controller import cached_reference_policy

    cache = Path(tempfile.gettempdir()) / "robot_rl_bench_cache"
    return cached_reference_policy(cache), "reference controller (no trained policy in policies/)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default=None)
    parser.add_argument("--seconds", type=float, default=5.0, help="measurement time per rate and target")
    args = parser.parse_args()

    domain = procs.pick_domain_id()
    env = procs.dds_env(domain)
    os.environ.update(ROS_DOMAIN_ID=env["ROS_DOMAIN_ID"], CYCLONEDDS_URI=env["CYCLONEDDS_URI"])
    from robot_rl.deploy.dds_transport import DdsTransport

    with tempfile.TemporaryDirectory() as scratch:
        policy, source = find_policy(args.policy, Path(scratch))
        server = procs.spawn(["-m", "robot_rl.deploy.echo", "--policy", str(policy)], env, Path(scratch) / "server.log")
        results: dict[str, dict] = {"echo": {}, "node": {}}
        try:
            with DdsTransport("latency_bench") as transport:
                echo = RoundTripDriver(transport, "/echo/state", "/echo/command", ["slider", "hinge"])
                node = RoundTripDriver(
                    transport, "/joint_states", "/forward_command_controller/commands", ["slider", "hinge"]
                )
                for name, driver in (("echo", echo), ("node", node)):
                    if not driver.wait_connected(30.0):
                        print((Path(scratch) / "server.log").read_text(), file=sys.stderr)
                        raise SystemExit(f"no answer from the {name} within 30 s")
                stamp = 10**12
                for rate in (50, 500):
                    n = int(args.seconds * rate)
                    for name, driver in (("echo", echo), ("node", node)):
                        stats = driver.run(rate, n, stamp_period_s=0.02, start_stamp_ns=stamp)
                        stamp += n * 20_000_000 + 10**9
                        results[name][f"{rate}hz"] = stats.as_dict()
        finally:
            procs.stop(server)
    node500, echo500 = results["node"]["500hz"], results["echo"]["500hz"]
    report = {
        "benchmark": "node_latency",
        "transport": "cyclonedds (ROS 2 wire format), loopback, listeners",
        "policy": source,
        "machine": {"cpus": os.cpu_count(), "loadavg_1m": os.getloadavg()[0], "python": platform.python_version()},
        "echo": results["echo"],
        "node": results["node"],
        "node_minus_echo_p99_ms_500hz": round(node500["p99_ms"] - echo500["p99_ms"], 4),
        "targets": {
            f"node_500hz_p99_ms <= {TARGET_P99_MS}": node500["p99_ms"] <= TARGET_P99_MS,
            f"node_500hz_p99 - echo_500hz_p99 <= {TARGET_ABOVE_ECHO_MS} ms": node500["p99_ms"] - echo500["p99_ms"]
            <= TARGET_ABOVE_ECHO_MS,
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
