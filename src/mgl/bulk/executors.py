"""Where bulk workers run: processes on this machine, or a Ray Data actor pool.

An executor's :meth:`map` builds ``worker_cls(**kwargs)`` once in each of its workers, calls it
on every item and yields the results as they finish (in any order; each result says which item
it is). Items and results are dicts of JSON values and numpy arrays (:func:`pack`), so nothing a
worker sends back is unpickled by the driver. The driver writes what comes back. Items should be
small (a shard's plan, a chunk of texts): the local pool sends two per worker at a time, and Ray
Data holds them all in its object store and streams the results back under its own
backpressure, so results in flight stay bounded whatever the corpus size. A worker's
:class:`~mgl.errors.MGLError` (bad input) stops the run with its message and is not retried.

* :class:`LocalPool` (``--executor local --workers N``): ``N`` spawned processes, each with
  ``usable CPUs // N`` torch threads. A worker that raises stops the run with its error; one that
  dies (killed, out of memory) stops it with :class:`~mgl.errors.WorkerLost`; a run started
  again continues after the finished shards.
* :class:`RayPool` (``--executor ray [--address ADDR] [--workers N]``): the items as a Ray
  Dataset, ``map_batches`` over an actor pool of ``N`` actors (default: one per CPU of the
  cluster, or one per GPU where it has GPUs and the device is not ``cpu``). Ray Data restarts
  an actor that dies and runs its item again (``max_restarts`` / ``max_task_retries``), and as
  the lost attempt returned nothing, nothing is lost or written twice. The inputs and the model
  must be readable at the same paths on every node; outputs are written by the driver only.
  ``mgl predict`` does not send items through :meth:`RayPool.map`: it reads its inputs with Ray
  Data's readers on the workers (:mod:`mgl.bulk.ray_predict`, in :meth:`RayPool.session`); the
  grid's embedding and the encoder's ``embed`` use :meth:`RayPool.map` with chunks of texts.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable, Iterator

from mgl.errors import ConfigError, DataError, MGLError, WorkerLost
from mgl.model.prediction_model import usable_cpus

EXECUTORS = ("local", "ray")

_WORKER = None  # the worker of this process (LocalPool)


def _init_local(worker_cls, kwargs: dict) -> None:
    global _WORKER
    _WORKER = worker_cls(**kwargs)


def _call_local(item):
    return _WORKER(item)


def require_ray():
    """The ``ray`` module with Ray Data, or a one-line error saying how to install them."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigError("--executor ray needs Ray Data: pip install 'mgl-clt[ray]' (make test installs it)") from None
    return ray


def join_ray(address: str | None, init_kwargs: dict | None = None) -> bool:
    """Join the Ray cluster at ``address`` (None: start one on this machine), quietly, unless this
    process has joined one already; True where it started here (the caller then shuts it down)."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    ray.init(
        address=address,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        **(init_kwargs or {}),
    )
    return True


class LocalPool:
    """``workers`` processes on this machine, each building its worker once."""

    def __init__(self, workers: int = 2, *, threads: int | None = None):
        if workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {workers}")
        self.workers = workers
        self.workers_used = workers
        self.threads = threads if threads is not None else max(1, usable_cpus() // workers)

    def map(self, worker_cls, kwargs: dict, items: Iterable) -> Iterator:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from concurrent.futures.process import BrokenProcessPool

        items = iter(items)
        context = multiprocessing.get_context("spawn")  # no fork of a process holding torch's threads
        try:
            with ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_init_local,
                initargs=(worker_cls, {**kwargs, "threads": self.threads}),
            ) as pool:
                pending = set()
                for item in items:
                    pending.add(pool.submit(_call_local, item))
                    if len(pending) >= 2 * self.workers:
                        break
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        yield future.result()  # a worker's error stops the run here, with its message
                        nxt = next(items, None)
                        if nxt is not None:
                            pending.add(pool.submit(_call_local, nxt))
        except BrokenProcessPool:  # from a result or a submission, whichever meets the dead worker first
            raise WorkerLost() from None


def pack(record: dict) -> bytes:
    """An item or a result as bytes that load without running code: its numpy arrays as ``.npz``
    (read back with ``allow_pickle=False``), everything else as JSON."""
    import numpy as np

    arrays: dict[str, np.ndarray] = {str(k): v for k, v in record.items() if isinstance(v, np.ndarray)}
    header = json.dumps({k: v for k, v in record.items() if k not in arrays}).encode("utf-8")
    body = io.BytesIO()
    np.savez(body, allow_pickle=False, **arrays)
    return len(header).to_bytes(8, "little") + header + body.getvalue()


def unpack(blob: bytes) -> dict:
    """The record :func:`pack` wrote."""
    import numpy as np

    size = int.from_bytes(blob[:8], "little")
    record = json.loads(blob[8 : 8 + size].decode("utf-8"))
    with np.load(io.BytesIO(blob[8 + size :]), allow_pickle=False) as arrays:
        record.update({k: arrays[k] for k in arrays.files})
    return record


_ERRORS = {cls.__name__: cls for cls in (MGLError, DataError, ConfigError)}


class _RayWorker:
    """The actor class of :class:`RayPool`: one worker; items and results carried as :func:`pack` bytes.
    A worker's :class:`MGLError` comes back as a result (``{"error": ...}``), so it is not retried."""

    def __init__(self, worker_cls, kwargs: dict):
        self.worker = worker_cls(**kwargs)

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        results = []
        for blob in batch["item"]:
            try:
                results.append(pack(self.worker(unpack(blob))))
            except MGLError as exc:  # the user's input or settings: reported, not retried
                kind = type(exc).__name__ if type(exc).__name__ in _ERRORS else "MGLError"
                results.append(
                    pack({"error": {"kind": kind, "message": exc.message, "source": exc.source, "record": exc.record}})
                )
        return {"result": np.array(results, dtype=object)}


class RayPool:
    """A Ray Data actor pool (this machine's Ray, a cluster at ``address``, or the one already joined)."""

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        device: str | None = None,
        init_kwargs: dict | None = None,
    ):
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {workers}")
        self.address = address
        self.workers = workers
        self.workers_used: int | None = None  # the actors of the last map
        self.device = device
        self.init_kwargs = init_kwargs or {}

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """This process joined to the pool's Ray for the block's duration (a Ray started here is
        shut down at its end; one already joined is left as it was)."""
        ray = require_ray()
        started_here = join_ray(self.address, self.init_kwargs)
        try:
            yield
        finally:
            if started_here:
                ray.shutdown()

    def map(self, worker_cls, kwargs: dict, items: Iterable) -> Iterator:
        ray = require_ray()
        blobs = [pack(item) for item in items]
        if not blobs:
            return
        with self.session():
            resources = ray.cluster_resources()
            gpus = int(resources.get("GPU", 0)) if self.device != "cpu" else 0
            slots = gpus if gpus else int(resources.get("CPU", 1))
            workers = min(self.workers or max(1, slots), len(blobs))
            self.workers_used = workers
            cpus = max(1, int(resources.get("CPU", 1)) // workers) if not gpus else 1
            import logging

            # the driver draws one progress bar and reports errors itself: Ray Data's own bars and
            # per-dataset INFO lines would interleave with it
            logging.getLogger("ray.data").setLevel(logging.ERROR)
            context = ray.data.DataContext.get_current()
            context.enable_progress_bars = False
            context.execution_options.verbose_progress = False
            context.execution_options.preserve_order = False  # results say which item they are
            ds = ray.data.from_items([{"item": b} for b in blobs], override_num_blocks=len(blobs))
            ds = ds.map_batches(
                _RayWorker,
                fn_constructor_kwargs={"worker_cls": worker_cls, "kwargs": {**kwargs, "threads": cpus}},
                batch_size=1,
                compute=ray.data.ActorPoolStrategy(size=workers),
                num_cpus=cpus,
                num_gpus=1 if gpus else 0,
            )
            for row in ds.iter_rows():
                result = unpack(row["result"])
                if "error" in result:
                    e = result["error"]
                    raise _ERRORS[e["kind"]](e["message"], source=e["source"], record=e["record"])
                yield result


def make_pool(
    executor: str = "local", *, workers: int | None = None, address: str | None = None, device: str | None = None
):
    """The pool named on the command line, or None where one process does the work (local, 1 worker)."""
    if executor == "local":
        if address is not None:
            raise ConfigError("--address is for --executor ray")
        if workers is None or workers == 1:
            return None
        return LocalPool(workers)
    if executor == "ray":
        return RayPool(address, workers=workers, device=device)
    raise ConfigError(f"unknown executor {executor!r}: use one of {', '.join(EXECUTORS)}")
