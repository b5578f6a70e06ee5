"""Connecting to Ray, and describing the cluster a run used.

Default: an embedded local Ray started in this process, sized to this machine (its CPU count),
with a small object store (weights and rollouts are small) and no dashboard, so it works offline
and starts in ~2 s. With ``--address``: a running cluster (``ray start --head`` on one machine,
``ray start --address HEAD:6379`` on the others, see the README), ``auto`` for the one running on
this machine, or ``ray://HEAD:10001`` for Ray Client.

Ray 2.5x enables token authentication on clusters it starts. A driver that connects to one needs
the cluster's token and ``RAY_AUTH_MODE=token``; when a token is available here (``RAY_AUTH_TOKEN``,
``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``, where ``ray start`` on this machine leaves it) and
the mode is unset, ``ray_session`` sets the mode so ``--address`` just works.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from robot_rl.errors import RobotRLError

# Small: policy weights (tens of kB) and one rollout per worker (hundreds of kB) are all it holds.
EMBEDDED_OBJECT_STORE_BYTES = 200 * 1024 * 1024


_session: dict[str, str | None] = {"address": None}


class ClusterError(RobotRLError):
    """Ray is missing, a cluster cannot be reached, or it lacks the CPUs a command asked for."""


def import_ray(flag: str = "--workers") -> Any:
    """The ``ray`` module, or a one-line error saying how to get it."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reporting, offline machines
    try:
        import ray
    except ImportError as exc:
        raise ClusterError(f"{flag} needs Ray: pip install ray (or run without {flag})") from exc
    return ray


def _token_available() -> bool:
    if os.environ.get("RAY_AUTH_TOKEN"):
        return True
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    return Path(path).is_file() if path else (Path.home() / ".ray" / "auth_token").is_file()


def _check_reachable(address: str, flag: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds on a HOST:PORT nobody listens on (Ray itself retries for minutes)."""
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if address == "auto" or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ClusterError(
            f"{flag} {address}: nothing answers there ({exc.strerror or exc}); start the head with "
            "`ray start --head --port 6379` and pass HEAD_IP:6379, or leave out --address for a local Ray"
        ) from exc


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None, flag: str = "--address") -> Iterator[Any]:
    """Ray for the duration: an embedded local one (``address=None``) or the cluster at ``address``.

    Yields the ``ray`` module. If Ray is already initialized in this process (a notebook, a test
    fixture, a sweep trial), that session is used and left running: only a session this function
    started is shut down on exit, also on errors and Ctrl-C.
    """
    ray = import_ray(flag)
    if ray.is_initialized():
        yield ray
        return
    if address is None:
        # Ray enables token authentication for a cluster it starts (right: it listens on this
        # machine's address) and warns about it on every start; keep the default, drop the warning.
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
        ray.init(
            address="local",  # always a fresh instance, never whatever `ray start` left running
            num_cpus=num_cpus or os.cpu_count() or 1,
            object_store_memory=EMBEDDED_OBJECT_STORE_BYTES,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
    else:
        _check_reachable(address, flag)
        if "RAY_AUTH_MODE" not in os.environ and _token_available():
            os.environ["RAY_AUTH_MODE"] = "token"
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClusterError(
                f"{flag} {address}: cannot connect to a Ray cluster ({first}); start one with "
                "`ray start --head --port 6379` and pass HEAD_IP:6379, or leave out --address for a local Ray"
            ) from exc
    _session["address"] = address
    try:
        yield ray
    finally:
        _session["address"] = None
        ray.shutdown()


def cluster_layout() -> dict[str, Any]:
    """The live nodes of the connected cluster (what a run folder and its model card record)."""
    import ray

    address = _session["address"]
    nodes = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        resources = node.get("Resources", {})
        nodes.append(
            {
                "node_ip": node.get("NodeManagerAddress"),
                "hostname": node.get("NodeManagerHostname"),
                "cpus": float(resources.get("CPU", 0.0)),
                "head": "node:__internal_head__" in resources,
            }
        )
    return {
        "address": address or "embedded local Ray",
        "ray_version": ray.__version__,
        "driver_host": socket.gethostname(),
        "total_cpus": float(ray.cluster_resources().get("CPU", 0.0)),
        "nodes": sorted(nodes, key=lambda n: (not n["head"], str(n["node_ip"]))),
        "connected_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def require_cpus(needed: float, what: str) -> None:
    """Refuse early when the cluster can never fit ``needed`` CPUs (Ray would wait forever)."""
    import ray

    total = float(ray.cluster_resources().get("CPU", 0.0))
    if total < needed:
        raise ClusterError(
            f"{what} needs {needed:g} CPUs but the Ray cluster has {total:g}; ask for fewer or add machines "
            "(`ray start --address HEAD_IP:6379` on each, then pass --address HEAD_IP:6379)"
        )
