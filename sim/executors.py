"""Executors: where chunks of replications run (this process, local processes, or a Ray cluster).

Each executor maps `fn(shared, chunk) -> list` over chunks of replication indices and yields the
results in index order, so what comes out never depends on which worker or node ran what.
Ray is an optional extra (`pip install 'salesim[ray]'`), imported only when `kind` is `ray`.
"""

from __future__ import annotations

import logging
import socket
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import islice
from typing import Any, TypeVar

from sim.config import ConfigError, ExecutorSettings

S = TypeVar("S")
R = TypeVar("R")
Chunk = Callable[[S, list[int]], list[R]]

log = logging.getLogger(__name__)


def map_ordered(
    fn: Chunk, shared: S, items: Sequence[int], settings: ExecutorSettings, workers: int
) -> Iterator[R]:
    """Yield fn's results for every item, in item order, on the executor `settings.kind`.

    `items` (a range or list) is never copied whole: the local executor submits a bounded window of
    chunks at a time, so memory does not grow with the replication count."""
    if settings.kind == "ray":
        yield from _ray(fn, shared, list(items), settings, workers)
    elif settings.kind == "serial" or workers <= 1 or len(items) < 2:
        for item in items:  # one at a time: results stream, memory does not grow with the count
            yield from fn(shared, [item])
    else:
        yield from _processes(fn, shared, items, workers)


def chunks(items: Sequence[int], size: int) -> list[list[int]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _lazy_chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


_pools: set[ProcessPoolExecutor] = set()  # the pools running now, for stop_workers


def stop_workers() -> None:
    """Kill the worker processes of every running pool (after an interrupt or a signal), so none
    outlives the run; their results are discarded."""
    for pool in list(_pools):
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            if proc.is_alive():
                proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        _pools.discard(pool)


def auto_size(n: int, slots: int) -> int:
    """Replications per task: about four tasks per slot (for balance), at most 8 (for progress)."""
    return max(1, min(8, n // (4 * max(1, slots))))


def _processes(fn: Chunk, shared: S, items: Sequence[int], workers: int) -> Iterator[R]:
    """Chunks on a process pool, at most a few per worker in flight (results kept in order)."""
    parts = _lazy_chunks(items, auto_size(len(items), workers))
    pool = ProcessPoolExecutor(max_workers=workers)
    _pools.add(pool)
    ok = False
    try:
        window = [pool.submit(fn, shared, p) for p in islice(parts, 4 * workers)]
        while window:
            batch = window.pop(0).result()
            nxt = next(parts, None)
            if nxt is not None:
                window.append(pool.submit(fn, shared, nxt))
            yield from batch
        ok = True
    finally:
        if ok:
            pool.shutdown()
            _pools.discard(pool)
        else:  # an error, an interrupt, or the consumer stopped early: no worker may linger
            stop_workers()


def _ray(
    fn: Chunk, shared: S, items: list[int], settings: ExecutorSettings, workers: int
) -> Iterator[R]:
    ray = connect_ray(settings.address, workers)
    slots = int(ray.cluster_resources().get("CPU", 1))
    parts = chunks(items, settings.replications_per_task or auto_size(len(items), slots))
    # SPREAD: tasks go round the nodes rather than filling the driver's node first.
    task = ray.remote(_on_node).options(scheduling_strategy="SPREAD")
    ref = ray.put(shared)  # shipped once, not once per task
    futures = [task.remote(fn, ref, part) for part in parts]
    nodes: Counter[str] = Counter()
    try:
        for fut in futures:  # in submission order, i.e. replication order
            node, batch = ray.get(fut)
            nodes[node] += 1
            yield from batch
    finally:
        for fut in futures[sum(nodes.values()) :]:
            ray.cancel(fut)  # after an error or interrupt: free the cluster of what is left
    log.info(
        "ray: %d tasks of up to %d replications on %d node(s): %s",
        len(parts),
        len(parts[0]),
        len(nodes),
        ", ".join(f"{n[:8]} x{k}" for n, k in sorted(nodes.items())),
    )


def _on_node(fn: Chunk, shared: S, part: list[int]) -> tuple[str, list[R]]:
    """Run one chunk in a Ray worker; also say which node ran it (for the log, not the results)."""
    import ray  # lazy: an optional extra, loaded only on the Ray executor

    return ray.get_runtime_context().get_node_id(), fn(shared, part)


def connect_ray(address: str | None, workers: int) -> Any:
    """The `ray` module, connected: an existing connection is reused (e.g. inside a job of Hydra's Ray
    launcher), `address=None` starts Ray on this machine with `workers` CPUs, anything else joins
    that cluster. Raises ConfigError if Ray is missing or the address cannot be reached."""
    try:
        import ray  # lazy: an optional extra, loaded only on the Ray executor
    except ImportError:
        raise ConfigError(
            "config error: executor.kind = 'ray': Ray is not installed; "
            "pip install 'salesim[ray]' (or use executor=local)"
        ) from None
    if ray.is_initialized():
        return ray
    if address not in (None, "auto", "local"):
        _check_reachable(address)
    try:
        ray.init(
            address=address,
            num_cpus=workers if address is None else None,
            include_dashboard=False if address is None else None,
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as exc:
        raise ConfigError(
            f"config error: executor.address = {address!r}: cannot join a Ray cluster there "
            f"({_first_sentence(exc)}; docs/scale.md)"
        ) from None
    return ray


# An HTTP/2 client's opening (the connection preface and an empty SETTINGS frame): a gRPC server
# such as Ray's GCS or Ray Client answers with a SETTINGS frame of its own (frame type 4).
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a dead or wrong address: ray.init waits minutes (or for ever) for a GCS that is
    not there, or on a port where something else listens. The port must accept a connection and
    answer an HTTP/2 opening as a gRPC server does."""
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"config error: executor.address = {address!r}: expected null, 'auto', "
            "'HOST:6379' (the head's GCS port) or 'ray://HOST:10001' (Ray Client)"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as conn:
            conn.sendall(_H2_PREFACE)
            head = conn.recv(9)
    except OSError as exc:
        raise ConfigError(
            f"config error: executor.address = {address!r}: cannot reach {host}:{port} ({exc})"
        ) from None
    if len(head) < 9 or head[3] != 4:
        raise ConfigError(
            f"config error: executor.address = {address!r}: {host}:{port} accepts connections but "
            "does not answer as a Ray head (gRPC); check the port (GCS 6379, Ray Client 10001)"
        )


def _first_sentence(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.split(". ")[0].rstrip(".")
