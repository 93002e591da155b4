"""Embedding shards on a Dask cluster through Prefect's DaskTaskRunner (PAPERRADAR_TASK_RUNNER=dask).

`make_encoder(settings, embedder)` gives what `index.build.update_index` embeds with: the
embedder itself (local), or a `DaskEncoder`. Each `DaskEncoder.encode_documents` call is
one Prefect flow run whose task runner is `prefect_dask.DaskTaskRunner`: the texts are cut
into shards, one `embed-shard` task per shard, and the vectors come back in input order.
A worker process loads the model once (`shared_embedder`) and keeps it for every later
shard; the driver fixes the backend, so every worker produces the driver's vector set.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ClusterError, PaperradarError, UserInputError
from core.settings import Settings
from index.embed import Embedder, shared_embedder

# Prefect (imported lazily below) reads its settings when first used, so this comes first.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

SHARD_SIZE = 512  # texts per task: a few seconds of int8 work on one core, 0.8 MB of vectors back
SHARDS_PER_WORKER = 2  # shards per worker per call: keeps every worker busy to the call's end
MIN_SHARDS_PER_CALL = 8
CONNECT_TIMEOUT = 10.0  # seconds to reach PAPERRADAR_DASK_ADDRESS before giving up
SHARD_RETRIES = 2


def embed_shard(
    index: int,
    texts: list[str],
    model: str,
    device: str,
    batch_size: int,
    backend: str,
    models_dir: Path | None,
    threads: int,
) -> np.ndarray:
    """Vectors of one shard, on whichever worker Dask picks (model loaded once per process).

    The body of the `embed-shard` task (`shard_task()`); `index` names the task run.
    """
    del index
    return shared_embedder(model, device, batch_size, backend, models_dir, threads).encode_documents(texts)


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a shard unless its error will not go away (ModelLoadError, a bad setting)."""
    return not isinstance(state.result(raise_on_failure=False), PaperradarError)


@cache
def shard_task() -> Any:
    """The Prefect task of `embed_shard`; made on first use so that importing this module
    (as `paperradar index` does on every run) does not import Prefect."""
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    # A lost worker's shard is run again by Dask itself (up to distributed.scheduler.
    # allowed-failures times); these retries are for errors raised inside the task.
    return task(
        name="embed-shard",
        task_run_name="shard-{index}",
        retries=SHARD_RETRIES,
        retry_delay_seconds=[1, 5],
        retry_condition_fn=retry_transient,
        cache_policy=NO_CACHE,  # nothing to gain from hashing 512 abstracts per shard
        persist_result=False,  # vectors go back to the driver, never to Prefect's result storage
    )(embed_shard)


def _embed_shards(shards: list[list[str]], config: dict[str, Any]) -> np.ndarray:
    """Submit one task per shard, log progress as they finish, stack the vectors in order."""
    from distributed import as_completed
    from prefect import get_run_logger

    logger = get_run_logger()
    start, papers, done = time.perf_counter(), 0, 0
    futures = [shard_task().submit(i, shard, **config) for i, shard in enumerate(shards)]
    dask_futures = [f.wrapped_future for f in futures]
    position = {f.key: i for i, f in enumerate(dask_futures)}
    results: list[np.ndarray | None] = [None] * len(shards)
    for finished in as_completed(dask_futures, loop=dask_futures[0].client.loop):
        i = position[finished.key]
        results[i] = futures[i].result()  # raises the shard's error after its retries
        done, papers = done + 1, papers + len(shards[i])
        seconds = time.perf_counter() - start
        logger.info(
            f"shards {done}/{len(shards)}: {papers} papers, {papers / max(seconds, 1e-9):.0f} papers/s"
        )
    return np.concatenate([r for r in results if r is not None])


class DaskEncoder:
    """Embeds documents as shards on a Dask cluster; gives the vectors `embedder` would.

    `address`: a running scheduler (tcp://host:8786), or "" to start a local cluster of
    `workers` processes on first use (kept until `close()`, so its workers keep their
    loaded model from call to call). Each `encode_documents` call is one Prefect flow run
    of `chunk_size` texts at most (update_index stores each call's vectors as one shard).

    The driver fixes the configuration the workers use: the backend `embedder` resolved
    (auto -> onnx-int8 on a CPU), its model, models folder (absolute) and, for onnx-int8,
    device cpu. For onnx-int8 the build is made on the driver first, so workers on this
    machine find it cached instead of all building it at once. With onnx-int8 the vectors
    equal the local ones exactly (each depends on its text alone); with torch they can
    differ in the last bits, as sentence-transformers batches other neighbours together.

    Errors: ClusterError when the scheduler cannot be reached or the cluster loses a
    shard for good; a shard's own error (e.g. ModelLoadError) as raised on the worker.
    """

    def __init__(
        self,
        embedder: Embedder,
        address: str = "",
        workers: int = 2,
        *,
        batch_size: int = 0,
        threads: int = 0,
        shard_size: int = SHARD_SIZE,
        shards_per_call: int = 0,
    ) -> None:
        if workers < 1 or shard_size < 1:
            raise ValueError("workers and shard_size must be at least 1")
        self.embedder = embedder
        self.address = address
        self.workers = workers
        self.shard_size = shard_size
        self.shards_per_call = shards_per_call or max(MIN_SHARDS_PER_CALL, SHARDS_PER_WORKER * workers)
        backend = embedder.backend
        self.config: dict[str, Any] = {
            "model": embedder.model_name,
            "device": "cpu" if backend == "onnx-int8" else embedder.requested_device,
            "batch_size": batch_size,
            "backend": backend,
            "models_dir": embedder.models_dir.resolve() if embedder.models_dir else None,
            "threads": threads,
        }
        self._cluster: Any = None
        self._scheduler = address or None
        self._finalizer: weakref.finalize | None = None

    @property
    def chunk_size(self) -> int:
        """Texts per `encode_documents` call (update_index's unit of storing)."""
        return self.shard_size * self.shards_per_call

    @property
    def scheduler_address(self) -> str:
        """The scheduler the flow runs connect to (starting the local cluster if need be)."""
        if self._scheduler is None:
            self._scheduler = self._start_local_cluster()
        return self._scheduler

    def check_connection(self, timeout: float = CONNECT_TIMEOUT) -> int:
        """Reach the scheduler now; the number of workers it has.

        ClusterError when it cannot be reached in `timeout` seconds, UserInputError when
        the address is not one (e.g. no port).
        """
        from distributed import Client

        try:
            with Client(self.scheduler_address, timeout=timeout) as client:
                return len(client.scheduler_info().get("workers", {}))
        except (OSError, TimeoutError) as exc:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {self.scheduler_address}: "
                f"{_first_line(exc)} (start it with `dask scheduler`, fix PAPERRADAR_DASK_ADDRESS, "
                "or leave it empty for a local cluster)"
            ) from None
        except ValueError as exc:  # not an address at all (no port, unknown protocol)
            raise UserInputError(
                f"bad PAPERRADAR_DASK_ADDRESS {self.scheduler_address!r}: {_first_line(exc)} "
                "(use tcp://host:8786)"
            ) from None

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of `texts`, in order, embedded shard by shard on the cluster."""
        from distributed import CancelledError, KilledWorker
        from distributed.comm import CommClosedError
        from prefect import flow
        from prefect_dask import DaskTaskRunner

        texts = list(texts)
        if not texts:
            return self.embedder.encode_documents([])
        if self.config["backend"] == "onnx-int8":
            _ = self.embedder.onnx_dir  # build (or check) once here, not in every worker
        shards = [texts[i : i + self.shard_size] for i in range(0, len(texts), self.shard_size)]
        config = dict(self.config)

        # The texts stay out of the flow's parameters: Prefect stores those in its database.
        @flow(
            name="embed-shards",
            flow_run_name=f"{len(texts)} papers in {len(shards)} shards",
            task_runner=DaskTaskRunner(address=self.scheduler_address),  # type: ignore[arg-type]
            validate_parameters=False,
            persist_result=False,
        )
        def embed_shards() -> np.ndarray:
            return _embed_shards(shards, config)

        try:
            with _api_for_workers():
                vectors = embed_shards()
        except (KilledWorker, CommClosedError, CancelledError) as exc:
            raise ClusterError(
                f"the Dask cluster at {self.scheduler_address} lost a shard: {type(exc).__name__}: "
                f"{_first_line(exc)} (check the workers' logs; a shard that kills its worker "
                "three times is given up)"
            ) from None
        return np.asarray(vectors, dtype=np.float32)

    def close(self) -> None:
        """Stop the local cluster, if this encoder started one."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer, self._cluster = None, None
            self._scheduler = self.address or None

    def __enter__(self) -> DaskEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start_local_cluster(self) -> str:
        import dask
        from distributed import LocalCluster

        # The scheduler's and nannies' start/stop lines at INFO drown the shard progress.
        # (In dask's config, not only setLevel: distributed re-reads it as a cluster starts.)
        dask.config.set({"distributed.logging.distributed": "warning"})
        logging.getLogger("distributed").setLevel(logging.WARNING)
        try:
            # One thread per worker: a worker's parallelism is the onnx-int8 runs inside it.
            self._cluster = LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            )
        except Exception as exc:  # ports, spawn failures, ...: one line for the CLI
            raise ClusterError(f"cannot start a local Dask cluster: {_first_line(exc)}") from None
        # Closed with the encoder, or at exit when the CLI never closes it.
        self._finalizer = weakref.finalize(self, self._cluster.close)
        return str(self._cluster.scheduler_address)


def make_encoder(settings: Settings, embedder: Embedder) -> Embedder | DaskEncoder:
    """What `paperradar index` embeds with: `embedder` itself, or a DaskEncoder per the settings.

    For a scheduler address the connection is checked now (ClusterError, one line, if it
    fails) and the calls are sized to its workers; a local cluster starts on first use.
    """
    if settings.task_runner == "local":
        return embedder
    if settings.dask_address:
        encoder = DaskEncoder(
            embedder, settings.dask_address, batch_size=settings.batch_size, threads=settings.embed_threads
        )
        workers = encoder.check_connection()
        encoder.shards_per_call = max(MIN_SHARDS_PER_CALL, SHARDS_PER_WORKER * workers)
        return encoder
    from index.onnx_backend import physical_cores

    # The local workers share this machine's cores: an equal part each, unless set.
    threads = settings.embed_threads or max(1, physical_cores() // settings.dask_workers)
    return DaskEncoder(embedder, "", settings.dask_workers, batch_size=settings.batch_size, threads=threads)


@contextmanager
def _api_for_workers() -> Iterator[None]:
    """Give the workers this process's Prefect API, starting the temporary one if none is set.

    Task runs report to the API from the workers, which get the flow's settings; left
    without PREFECT_API_URL, each worker process would start a temporary server of its own.
    A remote cluster needs a PREFECT_API_URL its workers can reach (`prefect server start`).
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the one this process's client would start (stopped at exit)
    server.start()
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        yield


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
