"""Run independent evaluation jobs, each once: a result cache on disk plus a pluggable executor.

A job is ``(key, payload)``: ``payload`` is a JSON-able dict a worker function turns into a JSON-able
result dict, ``key`` names the result in the cache (see :func:`job_key`). Results are written as they
arrive, one file each, atomically, so a sweep that is killed half-way resumes where it stopped and a
reader never sees half a result.

Executors: ``local`` (default: a process pool on this machine, or in-process with one worker),
``ray`` (``--address`` of a Ray cluster) and ``dask`` (``--address`` of a Dask scheduler); the last two
are imported only when asked for.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from opmodels.files import write_atomic

from ..errors import NetsimError

EXECUTORS = ("local", "ray", "dask")
CACHE_VERSION = 1  # bump when a result's meaning changes, so old cache entries are not reused


def job_key(payload: dict) -> str:
    """A stable hash of everything that determines a result.

    Top-level keys starting with ``_`` (where to find things, like a weights path) are left out: the
    payload names the model by its content hash instead.
    """
    kept = {k: v for k, v in payload.items() if not k.startswith("_")}
    text = json.dumps({"cache_version": CACHE_VERSION, **kept}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Job:
    key: str
    payload: dict

    @classmethod
    def of(cls, payload: dict) -> "Job":
        return cls(job_key(payload), payload)


class ResultCache:
    """One JSON file per finished job under ``directory`` (``<key[:2]>/<key>.json``)."""

    def __init__(self, directory):
        self.directory = Path(directory)

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        path = self.path(key)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None  # unreadable entries are recomputed (atomic writes make this rare)

    def put(self, key: str, result: dict) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(result, sort_keys=True))

    def __contains__(self, key: str) -> bool:
        return self.path(key).exists()


def limit_threads(threads: int) -> None:
    """Give this process ``threads`` compute threads (torch, OpenMP, Numba).

    With 2 cores, 2 workers x 1 thread beats 1 worker x 2 threads for small networks: their layers are
    too small for intra-op parallelism to pay (see docs/explore.md for the measurement).
    """
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(threads)
    import sys
    if "torch" in sys.modules:  # else torch reads OMP_NUM_THREADS when it is first imported
        import torch
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass  # already set in this process


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def run_jobs(jobs: list, worker: Callable, cache: ResultCache | None = None, *, executor: str = "local",
             workers: int | None = None, threads: int = 1, address: str | None = None,
             progress: bool = True, desc: str = "jobs") -> list:
    """Results of ``worker(job.payload)`` for every job, in job order; cached ones are not recomputed.

    ``worker`` must be a module-level function (it is pickled to other processes).
    """
    if executor not in EXECUTORS:
        raise NetsimError(f"executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")
    if workers is not None and workers < 1:
        raise NetsimError(f"workers must be at least 1, not {workers}")
    if threads < 1:
        raise NetsimError(f"threads must be at least 1, not {threads}")
    results: dict[str, dict] = {}
    pending = []
    for job in jobs:
        if job.key in results:
            continue
        cached = cache.get(job.key) if cache is not None else None
        if cached is not None:
            results[job.key] = cached
        elif all(job.key != p.key for p in pending):
            pending.append(job)

    if pending and executor != "local":
        _require(executor)  # before any progress bar, so a missing backend is a one-line error
    bar = _bar(len(pending), f"{desc} ({len(results)} cached)" if results else desc, progress)

    def finished(job: Job, result: dict) -> None:
        results[job.key] = result
        if cache is not None:
            cache.put(job.key, result)
        bar.update(1)

    try:
        if pending:
            run = {"local": _run_local, "ray": _run_ray, "dask": _run_dask}[executor]
            run(pending, worker, finished, workers=workers or default_workers(), threads=threads,
                address=address)
    finally:
        bar.close()
    return [results[job.key] for job in jobs]


def _run_local(pending, worker, finished, *, workers, threads, address):
    if address is not None:
        raise NetsimError("--address is for the ray and dask executors; the local executor runs on this machine")
    if workers == 1 or len(pending) == 1:
        # in the calling process: only torch's thread count, restored afterwards (no environment changes)
        import sys
        torch = sys.modules.get("torch")
        before = torch.get_num_threads() if torch else None
        if torch:
            torch.set_num_threads(threads)
        try:
            for job in pending:
                finished(job, worker(job.payload))
        finally:
            if torch:
                torch.set_num_threads(before)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    # spawn: a fork of a process that already ran torch threads can deadlock
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=context,
                             initializer=limit_threads, initargs=(threads,)) as pool:
        futures = {pool.submit(worker, job.payload): job for job in pending}
        try:
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    finished(futures.pop(future), future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _require(executor: str) -> None:
    import importlib.util
    module, install = {"ray": ("ray", "pip install 'ray[default]'"),
                       "dask": ("distributed", "pip install 'dask[distributed]'")}[executor]
    if importlib.util.find_spec(module) is None:
        raise NetsimError(f"the {executor} executor needs {executor.capitalize() if executor == 'dask' else 'Ray'}: "
                          f"{install}")


def _run_ray(pending, worker, finished, *, workers, threads, address):
    try:
        import ray
    except ImportError:
        raise NetsimError("the ray executor needs Ray: pip install 'ray[default]'") from None
    if not ray.is_initialized():
        # no address: a local Ray cluster of ``workers`` CPUs
        ray.init(address=address, num_cpus=workers if address is None else None, ignore_reinit_error=True,
                 log_to_driver=False)
    remote = ray.remote(num_cpus=threads)(_run_limited)
    refs = {remote.remote(worker, threads, job.payload): job for job in pending}
    while refs:
        done, _ = ray.wait(list(refs), num_returns=1)
        for ref in done:
            finished(refs.pop(ref), ray.get(ref))


def _run_dask(pending, worker, finished, *, workers, threads, address):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise NetsimError("the dask executor needs Dask: pip install 'dask[distributed]'") from None
    # no address: a LocalCluster of ``workers`` processes, closed with the client
    cluster = None if address is not None else LocalCluster(n_workers=workers, threads_per_worker=1,
                                                            processes=True, dashboard_address=None)
    client = Client(cluster if cluster is not None else address)
    try:
        futures = {client.submit(_run_limited, worker, threads, job.payload, pure=False): job for job in pending}
        for future in as_completed(list(futures)):
            finished(futures[future], future.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _run_limited(worker, threads: int, payload):
    """One job on a cluster worker, with that process's compute threads limited (a plain module-level
    function: Ray's decorator takes nothing else, and both pickle it by name)."""
    limit_threads(threads)
    return worker(payload)


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def _bar(total: int, desc: str, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, dynamic_ncols=True)
