"""Run independent evaluation jobs, each once: a result cache on disk plus a pluggable executor.

A job is ``(key, payload)``: ``payload`` is a JSON-able dict a worker function turns into a JSON-able
result dict, ``key`` names the result in the cache (see :func:`job_key`). Results are written as they
arrive, one file each, atomically, so a sweep that is killed half-way resumes where it stopped and a
reader never sees half a result.

What is read back is checked before it is used (``validate``): an entry that is not what a worker
returns (edited, truncated, from another version) is recomputed with a one-line warning naming its file.
Temporary files of a write that was killed half-way are removed on the next run over the cache.

Executors: ``local`` (default: a process pool on this machine, or in-process with one worker),
``ray`` (``--address`` of a Ray cluster) and ``dask`` (``--address`` of a Dask scheduler); the last two
are imported only when asked for. The local pool's workers die with the process that started them
(Linux parent-death signal, and a watchdog thread everywhere), and a job may be given a timeout.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from opmodels.files import clean_temporaries, write_atomic

from ..errors import NetsimError

EXECUTORS = ("local", "ray", "dask")
CACHE_VERSION = 2  # bump when a result's meaning changes, so old cache entries are not reused


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

    def get(self, key: str, validate: Callable | None = None) -> dict | None:
        """The cached result, or None when there is none or it is invalid (then with a warning).

        ``validate(result)`` returns None for a valid result, else what is wrong with it.
        """
        path = self.path(key)
        try:
            result = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            _warn_invalid(path, f"unreadable: {error}")
            return None
        problem = "not a JSON object" if not isinstance(result, dict) else validate(result) if validate else None
        if problem:
            _warn_invalid(path, problem)
            return None
        return result

    def put(self, key: str, result: dict) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(result, sort_keys=True))

    def __contains__(self, key: str) -> bool:
        return self.path(key).exists()

    def open(self) -> None:
        """Before a sweep: check the cache can be written, and remove the temporary files that killed
        runs left behind (:func:`opmodels.files.clean_temporaries`: those of processes still running,
        another sweep's writes in progress, stay)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            why = "it is a file" if isinstance(error, FileExistsError) else error.strerror
            raise NetsimError(f"cannot create the result cache {str(self.directory)!r}: {why}") from None
        if not os.access(self.directory, os.W_OK | os.X_OK):  # found now, not after the first job
            raise NetsimError(f"the result cache {str(self.directory)!r} is not writable (--cache DIR)")
        for subdirectory in self.directory.iterdir():
            if subdirectory.is_dir():
                clean_temporaries(subdirectory)


def _warn_invalid(path: Path, problem: str) -> None:
    print(f"netsim: warning: cache entry {path} is invalid ({problem}); recomputing it", file=sys.stderr)


def limit_threads(threads: int) -> None:
    """Give this process ``threads`` compute threads (torch, OpenMP, Numba).

    With 2 cores, 2 workers x 1 thread beats 1 worker x 2 threads for small networks: their layers are
    too small for intra-op parallelism to pay (see docs/explore.md for the measurement).
    """
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(threads)
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
             progress: bool = True, desc: str = "jobs", validate: Callable | None = None,
             timeout: float | None = None) -> list:
    """Results of ``worker(job.payload)`` for every job, in job order; cached ones are not recomputed.

    ``worker`` must be a module-level function (it is pickled to other processes). ``validate(payload,
    result)`` checks a cached result (None when valid, else what is wrong); invalid ones are recomputed.
    ``timeout``: seconds one job may take on the local executor (None: no limit); a job that takes longer
    ends the sweep with an error, the finished jobs staying cached.
    """
    if executor not in EXECUTORS:
        raise NetsimError(f"executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")
    if workers is not None and workers < 1:
        raise NetsimError(f"workers must be at least 1, not {workers}")
    if threads < 1:
        raise NetsimError(f"threads must be at least 1, not {threads}")
    if timeout is not None and not timeout > 0:
        raise NetsimError(f"the job timeout must be a positive number of seconds, not {timeout}")
    if cache is not None:
        cache.open()
    return _run_jobs(jobs, worker, cache, executor, workers, threads, address, progress, desc, validate, timeout)


def _run_jobs(jobs, worker, cache, executor, workers, threads, address, progress, desc, validate, timeout):
    results: dict[str, dict] = {}
    pending = []
    for job in jobs:
        if job.key in results:
            continue
        check = None if validate is None else (lambda result, payload=job.payload: validate(payload, result))
        cached = cache.get(job.key, check) if cache is not None else None
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
                address=address, timeout=timeout)
    finally:
        bar.close()
    return [results[job.key] for job in jobs]


def _run_local(pending, worker, finished, *, workers, threads, address, timeout):
    if address is not None:
        raise NetsimError("--address is for the ray and dask executors; the local executor runs on this machine")
    if workers == 1 or len(pending) == 1:
        # in the calling process: only torch's thread count, restored afterwards (no environment changes)
        torch = sys.modules.get("torch")
        before = torch.get_num_threads() if torch else None
        if torch:
            torch.set_num_threads(threads)
        try:
            for job in pending:
                with _alarm(timeout, job):
                    result = worker(job.payload)
                finished(job, result)
        finally:
            if torch:
                torch.set_num_threads(before)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool
    # spawn: a fork of a process that already ran torch threads can deadlock
    context = multiprocessing.get_context("spawn")
    size = min(workers, len(pending))
    queue = iter(pending)
    with ProcessPoolExecutor(max_workers=size, mp_context=context, initializer=_start_worker,
                             initargs=(threads, os.getpid())) as pool:
        futures = {}  # future -> (job, when it was submitted)

        def submit_next() -> None:
            job = next(queue, None)
            if job is not None:
                futures[pool.submit(_run_in_worker, worker, timeout, job.payload)] = (job, time.monotonic())

        # no more jobs in flight than workers: a submitted job starts at once, so its age is its run time
        for _ in range(size):
            submit_next()
        try:
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    job, submitted = futures.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        running = [(job, submitted), *futures.values()]
                        raise NetsimError(_broken_pool_message(running, timeout)) from None
                    finished(job, result)
                    submit_next()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _broken_pool_message(running, timeout) -> str:
    """Why the pool broke: a job past its timeout (its worker ended itself), else a worker that died."""
    running = list(running)
    now = time.monotonic()
    late = [job for job, submitted in running if timeout is not None and now - submitted >= timeout]
    resume = "finished points are cached; run the same command again to resume"
    if late:
        return f"job {_label(late[0])} did not finish within the job timeout of {timeout:g} s; {resume}"
    during = f" while running job {_label(running[0][0])}" if running else ""
    return f"a worker process died (killed, or out of memory?){during}; {resume}"


def _label(job: Job) -> str:
    tags = job.payload.get("_tags") or {}
    return job.key + (f" ({', '.join(f'{k}={v}' for k, v in tags.items())})" if tags else "")


class JobTimeout(NetsimError):
    pass


@contextmanager
def _alarm(timeout, job):
    """A job in the calling process may run ``timeout`` seconds (SIGALRM; main thread of a POSIX process)."""
    usable = timeout is not None and hasattr(signal, "setitimer") and \
        threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expired(signum, frame):
        raise JobTimeout(f"job {_label(job)} did not finish within the job timeout of {timeout:g} s; "
                         f"finished points are cached; run the same command again to resume")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ---- the pool's worker processes
_deadline = None  # time.monotonic() by which this worker's current job must end (None: no limit)
PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCH_SECONDS = 0.25  # how often a worker checks its parent and its job's deadline


def _start_worker(threads: int, parent: int) -> None:
    """Pool initializer: limit threads, and die with the parent process.

    A pool worker waits on a queue whose write end it holds itself, so it never sees the parent go:
    without this, a SIGKILLed sweep leaves its workers (and through them the multiprocessing resource
    tracker) running for ever. Two mechanisms: the kernel's parent-death signal (Linux), and a watchdog
    thread that notices the parent pid change (any POSIX system; it also ends a job past its deadline).
    """
    limit_threads(threads)
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog still works
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=_watchdog, args=(parent,), name="netsim-watchdog", daemon=True).start()


def _watchdog(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)
        deadline = _deadline
        if deadline is not None and time.monotonic() > deadline:
            os._exit(3)  # the parent reports it: it sees the pool break with this job running too long
        time.sleep(WATCH_SECONDS)


def _run_in_worker(worker, timeout, payload):
    global _deadline
    _deadline = None if timeout is None else time.monotonic() + timeout
    try:
        return worker(payload)
    finally:
        _deadline = None


def _require(executor: str) -> None:
    import importlib.util
    module, install = {"ray": ("ray", "pip install 'ray[default]'"),
                       "dask": ("distributed", "pip install 'dask[distributed]'")}[executor]
    if importlib.util.find_spec(module) is None:
        raise NetsimError(f"the {executor} executor needs {executor.capitalize() if executor == 'dask' else 'Ray'}: "
                          f"{install}")


def _run_ray(pending, worker, finished, *, workers, threads, address, timeout):
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


def _run_dask(pending, worker, finished, *, workers, threads, address, timeout):
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
