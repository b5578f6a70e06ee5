"""Connecting to Ray, and describing the cluster a run used.

Default: an embedded local Ray started in this process, sized to this machine (its CPU count),
with a small object store (weights and rollouts are small) and no dashboard, so it works offline
and starts in ~2 s. With ``--address``: a running cluster (``ray start --head`` on one machine,
``ray start --address HEAD:6379`` on the others, see the README), ``auto`` for the one running on
this machine, or ``ray://HEAD:10001`` for Ray Client.

Token authentication (Ray 2.5x and later). A cluster started by ``ray start --head`` requires a
token when one exists on the head machine at start (``~/.ray/auth_token``: ``ray get-auth-token
--generate`` writes it, and so does any local ``ray.init()``, the embedded Ray of ``robot-rl train
--workers`` or ``robot-rl sweep`` included). A driver sends its token only when Ray's C++ config says
``RAY_AUTH_MODE=token``, and that config is read once, when ``ray`` is imported: setting the variable
later is not enough (which is why ``--address`` failed where a bare ``ray.init('auto')``, which
refreshes the config itself, connected). So ``ray_session`` does what Ray does for ``auto``, for every
address: with the mode unset and a token on this machine (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``
or ``~/.ray/auth_token``, Ray's order) it turns token mode on and refreshes the config (a token sent
to a cluster without authentication is ignored). It then asks the cluster's GCS once, in
milliseconds, so a missing or wrong token is one line naming the cause and where the token comes
from, not Ray's twenty seconds of ``InvalidAuthToken`` retries.
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


AUTH_ENV = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
DEFAULT_TOKEN_PATH = Path("~/.ray/auth_token")


def token_source() -> str | None:
    """Where Ray reads this machine's token from, in Ray's own order, or None when there is none."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path:
        return f"RAY_AUTH_TOKEN_PATH={path}" if Path(path).expanduser().is_file() else None
    return str(DEFAULT_TOKEN_PATH) if DEFAULT_TOKEN_PATH.expanduser().is_file() else None


def _use_token_if_available(flag: str, address: str) -> bool:
    """Token mode on when a token is here and the user did not choose a mode; True if it is on.

    Ray's C++ side caches ``RAY_AUTH_MODE`` at import, so the variable and ``Config.initialize``
    go together (what Ray's own ``ray.init('auto')`` does); the token cache is reset so a token
    copied here since the last session in this process is the one sent.
    """
    from ray._raylet import AuthenticationTokenLoader, Config

    mode = os.environ.get("RAY_AUTH_MODE")
    source = token_source()
    if mode is None and source is not None:
        os.environ["RAY_AUTH_MODE"] = mode = "token"
    if mode is not None and mode.lower() == "token" and source is None:
        raise ClusterError(
            f"{flag} {address}: RAY_AUTH_MODE=token is set here but this machine has no Ray token; copy "
            f"{DEFAULT_TOKEN_PATH} from the head machine to the same path here (or set RAY_AUTH_TOKEN to its contents)"
        )
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()
    return mode is not None and mode.lower() == "token"


def _auth_error(flag: str, address: str, gcs: str, token_on: bool) -> ClusterError:
    """The real cause of an ``InvalidAuthToken``: no token here, a different token, or auth switched off."""
    copy = (
        f"copy {DEFAULT_TOKEN_PATH} from the head machine (the one `ray start --head` ran on) to the same "
        "path here, or set RAY_AUTH_TOKEN to its contents"
    )
    if token_on:
        return ClusterError(
            f"{flag} {address}: the Ray cluster at {gcs} rejected this machine's token (from {token_source()}): "
            f"it is not the token the cluster was started with; {copy}"
        )
    if os.environ.get("RAY_AUTH_MODE"):
        return ClusterError(
            f"{flag} {address}: the Ray cluster at {gcs} requires a token but RAY_AUTH_MODE="
            f"{os.environ['RAY_AUTH_MODE']} is set here; unset it and have the head's token here ({copy})"
        )
    return ClusterError(
        f"{flag} {address}: the Ray cluster at {gcs} requires a token (Ray's token authentication) and this "
        f"machine has none (no RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or {DEFAULT_TOKEN_PATH}); {copy}"
    )


def _resolve(address: str, flag: str) -> str:
    """HOST:PORT of the cluster's GCS, ``auto`` resolved the way ``ray.init`` resolves it.

    ``auto`` is the cluster ``ray start`` last recorded in Ray's temp dir (``$TMPDIR/ray`` or
    ``/tmp/ray``), so the auth check below and ``ray.init`` talk to the same one.
    """
    if address.startswith("ray://"):
        return address
    from ray._private import services

    try:
        return services.canonicalize_bootstrap_address_or_die(address)
    except ValueError as exc:
        raise ClusterError(f"{flag} {address}: not a Ray address; pass HEAD_IP:6379, auto or ray://HEAD:10001") from exc
    except ConnectionError as exc:
        raise ClusterError(
            f"{flag} {address}: no Ray cluster runs on this machine; start one with `ray start --head --port 6379` "
            "(or pass --address HEAD_IP:6379 for one on another machine, or leave out --address for a local Ray)"
        ) from exc


def _check_auth(flag: str, address: str, gcs: str, token_on: bool) -> None:
    """One GCS handshake: an authentication failure comes back at once, with its cause."""
    from ray._raylet import GcsClient
    from ray.exceptions import AuthenticationError

    try:
        GcsClient(address=gcs)
    except AuthenticationError as exc:
        raise _auth_error(flag, address, gcs, token_on) from exc
    except Exception:  # noqa: BLE001 - anything else: ray.init retries and reports it
        pass


def _check_reachable(target: str, flag: str, shown: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds on a HOST:PORT nobody listens on (Ray itself retries for minutes).

    ``target`` is the resolved address, ``shown`` what the user typed: for ``auto`` the two differ
    and a dead target is the cluster ``ray start`` last left in Ray's temp dir.
    """
    host, _, port = target.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        where = f"at {target}, the cluster `ray start` last started on this machine" if shown == "auto" else "there"
        raise ClusterError(
            f"{flag} {shown}: nothing answers {where} ({exc.strerror or exc}); start the head with "
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
    # Ray sets RAY_AUTH_MODE in os.environ for a cluster it starts, and so does `_use_token_if_available`
    # for one it joins: put the variables back on exit, or every process this one starts later (a
    # test's CLI run, a notebook's `!ray start`) would inherit a setting nobody exported.
    saved_env = {name: os.environ.get(name) for name in AUTH_ENV}
    try:
        _init(ray, address, num_cpus, flag)
        _session["address"] = address
        try:
            yield ray
        finally:
            _session["address"] = None
            ray.shutdown()
    finally:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _init(ray: Any, address: str | None, num_cpus: int | None, flag: str) -> None:
    """``ray.init`` for an embedded Ray or a cluster, every known failure a one-line ClusterError."""
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
        return
    gcs = _resolve(address, flag)
    _check_reachable(gcs, flag, shown=address)
    token_on = _use_token_if_available(flag, address)
    if not gcs.startswith("ray://"):
        _check_auth(flag, address, gcs, token_on)
    try:
        ray.init(address=gcs, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(
            f"{flag} {address}: cannot connect to the Ray cluster at {gcs} ({first}); `ray status` on the head "
            "says whether it is up, or leave out --address for a local Ray"
        ) from exc


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
