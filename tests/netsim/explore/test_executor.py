"""The job executor: results in job order, the on-disk cache, and resume after a kill."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from netsim.errors import NetsimError
from netsim.explore.executor import Job, ResultCache, job_key, run_jobs
from tests.netsim.explore.workers_for_tests import die, fail_on_three, sleepy, square
from tests.utils import ROOT


def _jobs(n, log=None, sleep=0.0):
    return [Job.of({"x": x, "sleep": sleep, **({"_log": str(log)} if log else {})}) for x in range(n)]


def _executions(log: Path) -> list:
    return sorted(int(name.split(".")[0]) for name in os.listdir(log))


def test_key_ignores_location_fields_but_not_content():
    assert job_key({"x": 1, "_weights": "/a"}) == job_key({"x": 1, "_weights": "/b"})
    assert job_key({"x": 1}) != job_key({"x": 2})
    assert job_key({"a": 1, "b": 2}) == job_key({"b": 2, "a": 1})


def test_in_process_results_in_order_and_cached(tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    cache = ResultCache(tmp_path / "cache")
    jobs = _jobs(6, log)
    results = run_jobs(jobs, square, cache, workers=1, progress=False)
    assert [r["y"] for r in results] == [x * x for x in range(6)]
    assert _executions(log) == list(range(6))
    again = run_jobs(jobs + _jobs(8, log)[6:], square, cache, workers=1, progress=False)
    assert [r["y"] for r in again] == [x * x for x in range(8)]
    assert _executions(log) == list(range(8))  # 0..5 came from the cache
    assert cache.get(jobs[2].key)["y"] == 4


def test_duplicate_jobs_run_once(tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    jobs = _jobs(3, log) * 2
    results = run_jobs(jobs, square, None, workers=1, progress=False)
    assert [r["y"] for r in results] == [0, 1, 4, 0, 1, 4]
    assert _executions(log) == [0, 1, 2]


def test_process_pool_matches_in_process(tmp_path):
    jobs = _jobs(6)
    pooled = run_jobs(jobs, square, ResultCache(tmp_path), workers=2, progress=False)
    assert [r["y"] for r in pooled] == [x * x for x in range(6)]
    assert len({r["pid"] for r in pooled} - {os.getpid()}) >= 1


def test_a_failing_job_keeps_the_finished_ones(tmp_path):
    cache = ResultCache(tmp_path)
    jobs = [Job.of({"x": x}) for x in range(5)]
    with pytest.raises(ValueError, match="three"):
        run_jobs(jobs, fail_on_three, cache, workers=1, progress=False)
    assert [cache.get(j.key) is not None for j in jobs] == [True, True, True, False, False]


def test_bad_executor_arguments(tmp_path):
    with pytest.raises(NetsimError, match="executor must be one of local, ray, dask, not 'spark'"):
        run_jobs(_jobs(1), square, None, executor="spark")
    with pytest.raises(NetsimError, match="workers must be at least 1"):
        run_jobs(_jobs(1), square, None, workers=0)
    with pytest.raises(NetsimError, match="--address is for the ray and dask"):
        run_jobs(_jobs(1), square, None, address="tcp://x:1", progress=False)


@pytest.mark.parametrize("name, module", [("ray", "ray"), ("dask", "distributed")])
def test_missing_cluster_backend_is_a_clear_error(name, module, monkeypatch):
    import importlib.util
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda m, *a: None if m == module else find_spec(m, *a))
    with pytest.raises(NetsimError, match=f"the {name} executor needs"):
        run_jobs(_jobs(1), square, None, executor=name, progress=False)


@pytest.fixture
def ray_cluster():
    """A real local Ray cluster of 2 CPUs (ray is in the test extra), shut down afterwards."""
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    yield
    ray.shutdown()


def test_ray_executor_runs_the_jobs_on_a_local_cluster(ray_cluster, tmp_path):
    cache = ResultCache(tmp_path)
    results = run_jobs(_jobs(5), square, cache, executor="ray", workers=2, progress=False)
    assert [r["y"] for r in results] == [x * x for x in range(5)]
    assert os.getpid() not in {r["pid"] for r in results}  # ran in the cluster's worker processes
    assert all(cache.get(job.key) is not None for job in _jobs(5))


def test_dask_executor_runs_the_jobs_on_a_local_cluster(tmp_path):
    """No address: run_jobs starts a Dask LocalCluster of ``workers`` processes and closes it."""
    cache = ResultCache(tmp_path)
    results = run_jobs(_jobs(5), square, cache, executor="dask", workers=2, progress=False)
    assert [r["y"] for r in results] == [x * x for x in range(5)]
    assert os.getpid() not in {r["pid"] for r in results}
    assert all(cache.get(job.key) is not None for job in _jobs(5))


HELD_FROM = 5  # jobs 0..4 finish; 5..11 wait for a gate that the killed run never sees open

SWEEP = textwrap.dedent("""
    import sys
    from netsim.explore.executor import Job, ResultCache, run_jobs
    from tests.netsim.explore.workers_for_tests import square
    if __name__ == "__main__":
        cache, log, gate, hold_from, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        jobs = [Job.of({"x": x, "_log": log, "_gate": gate, "_hold_from": hold_from}) for x in range(12)]
        run_jobs(jobs, square, ResultCache(cache), workers=workers, progress=False)
""")


@pytest.mark.parametrize("workers", [1, 2])
def test_killed_sweep_resumes_without_redoing_finished_points(tmp_path, workers):
    """Killed once exactly jobs 0..4 are cached (the rest are held), the rerun does exactly 5..11."""
    script = tmp_path / "sweep.py"
    script.write_text(SWEEP)
    cache, log, gate = tmp_path / "cache", tmp_path / "log", tmp_path / "gate"
    log.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)])))
    command = [sys.executable, str(script), str(cache), str(log), str(gate), str(HELD_FROM), str(workers)]
    process = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120  # a bound for a stuck run, not part of what is tested
        while len(list(cache.glob("*/*.json"))) < HELD_FROM and process.poll() is None:
            assert time.monotonic() < deadline, "the sweep did not finish its first jobs"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the sweep and its workers, as a Ctrl-C'd shell would
        process.wait()
    keys = {Job.of({"x": x}).key: x for x in range(12)}  # "_" fields are not part of the key
    finished = {keys[p.stem] for p in cache.glob("*/*.json")}
    assert finished == set(range(HELD_FROM))
    for entry in log.iterdir():
        entry.unlink()
    gate.touch()
    subprocess.run(command, env=env, check=True, timeout=120)
    second_run = _executions(log)
    assert second_run == list(range(HELD_FROM, 12))  # nothing finished is redone, each job runs once
    assert len(list(cache.glob("*/*.json"))) == 12


def _y_is_square(payload, result):
    return None if result.get("y") == payload["x"] ** 2 else f"y = {result.get('y')!r} is not x squared"


@pytest.mark.parametrize("text", ["[]", "{}", '{"y": 500}', "{trunc", ""])
def test_invalid_cache_entries_are_recomputed_with_a_warning(tmp_path, capsys, text):
    log = tmp_path / "log"
    log.mkdir()
    cache = ResultCache(tmp_path / "cache")
    jobs = _jobs(3, log)
    run_jobs(jobs, square, cache, workers=1, progress=False, validate=_y_is_square)
    cache.path(jobs[1].key).write_text(text)
    for entry in log.iterdir():
        entry.unlink()
    capsys.readouterr()
    results = run_jobs(jobs, square, cache, workers=1, progress=False, validate=_y_is_square)
    assert [r["y"] for r in results] == [0, 1, 4]
    assert _executions(log) == [1]  # only the bad entry is recomputed
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("netsim: warning: cache entry ") and \
        str(cache.path(jobs[1].key)) in lines[0] and lines[0].endswith("recomputing it"), lines
    assert cache.get(jobs[1].key) == results[1]  # and rewritten


def _leftover(directory: Path, pid: int) -> Path:
    """A temporary as opmodels.files.write_atomic names it for a cache entry, written by process ``pid``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f".{'ab' * 16}.json.{pid}.x1y2z3w4.tmp"
    path.write_text("{half")
    return path


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_a_killed_run_are_removed_by_the_next(tmp_path):
    cache = ResultCache(tmp_path)
    leftovers = _leftover(tmp_path / "ab", _dead_pid()), _leftover(tmp_path / "cd", _dead_pid())
    keep = tmp_path / "ab" / "notes.tmp"  # not a name write_atomic makes
    keep.write_text("mine")
    run_jobs(_jobs(2), square, cache, workers=1, progress=False)
    assert not any(path.exists() for path in leftovers) and keep.exists()


def test_temporaries_are_left_to_a_sweep_that_is_running(tmp_path):
    """A temporary of a process still running (another sweep writing into this cache) stays."""
    running = _leftover(tmp_path / "ab", os.getppid())
    run_jobs(_jobs(2), square, ResultCache(tmp_path), workers=1, progress=False)
    assert running.exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_job_past_its_timeout_ends_the_sweep_and_the_others_stay_cached(tmp_path, workers):
    cache = ResultCache(tmp_path)
    jobs = [Job.of({"x": 0, "sleep": 0}), Job.of({"x": 1, "sleep": 60})]
    with pytest.raises(NetsimError, match=r"did not finish within the job timeout of 1 s.*run the same command"):
        run_jobs(jobs, sleepy, cache, workers=workers, progress=False, timeout=1)
    assert cache.get(jobs[0].key) == {"x": 0} and cache.get(jobs[1].key) is None
    with pytest.raises(NetsimError, match="timeout must be a positive number"):
        run_jobs(jobs, sleepy, cache, workers=workers, progress=False, timeout=0)


def test_a_worker_that_dies_is_a_clear_error(tmp_path):
    with pytest.raises(NetsimError, match="a worker process died .* while running job"):
        run_jobs([Job.of({"x": x}) for x in range(2)], die, None, workers=2, progress=False)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_cache_is_a_clear_error_before_any_job(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(NetsimError, match="cannot create the result cache"):
            run_jobs(_jobs(1), square, ResultCache(tmp_path / "cache"), workers=1, progress=False)
    finally:
        tmp_path.chmod(0o700)


def test_a_cache_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "cache").write_text("")
    with pytest.raises(NetsimError, match="cannot create the result cache .*: it is a file"):
        run_jobs(_jobs(1), square, ResultCache(tmp_path / "cache"), workers=1, progress=False)
