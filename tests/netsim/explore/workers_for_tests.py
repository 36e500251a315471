"""Toy workers for the executor tests (module level, so worker processes can import them)."""
import os
import time
from pathlib import Path


def square(payload):
    log = payload.get("_log")
    if log:
        with open(Path(log) / f"{payload['x']}.{os.getpid()}.{time.monotonic_ns()}", "w"):
            pass
    time.sleep(payload.get("sleep", 0))
    gate = payload.get("_gate")
    if gate and payload["x"] >= payload["_hold_from"]:
        while not os.path.exists(gate):  # held until the test opens the gate (never, in a run it kills)
            time.sleep(0.01)
    return {"x": payload["x"], "y": payload["x"] ** 2, "pid": os.getpid()}


def fail_on_three(payload):
    if payload["x"] == 3:
        raise ValueError("three")
    return {"y": payload["x"]}


def sleepy(payload):
    time.sleep(payload["sleep"])
    return {"x": payload["x"]}


def die(payload):
    os._exit(9)  # a worker killed from outside (the OOM killer, a user's kill)


# ---- a real sweep command held at a deterministic point (kill-and-resume and process tests)
# NETSIM_TEST_GATE names a directory: each job takes the next ticket there, jobs from ticket
# NETSIM_TEST_HOLD_FROM on wait until the file ``open`` exists in it; each job that runs leaves
# ``ran.<cache key>`` there.

def gated_evaluation(payload):
    from netsim.explore.executor import job_key
    from netsim.explore.jobs import run_evaluation
    gate = Path(os.environ["NETSIM_TEST_GATE"])
    ticket = 0
    while True:
        try:
            os.close(os.open(gate / f"ticket.{ticket}", os.O_CREAT | os.O_EXCL))
            break
        except FileExistsError:
            ticket += 1
    (gate / f"ran.{job_key(payload)}").touch()
    while ticket >= int(os.environ["NETSIM_TEST_HOLD_FROM"]) and not (gate / "open").exists():
        time.sleep(0.01)
    return run_evaluation(payload)


def gated_netsim(argv) -> int:
    """``netsim argv`` with every evaluation job going through :func:`gated_evaluation`."""
    from netsim.cli import main
    from netsim.explore import sweeps
    sweeps.run_evaluation = gated_evaluation  # Run.jobs looks it up here; pool workers unpickle it by name
    return main(argv)


# ---- processes, from /proc (Linux)

def _process(pid: int):
    """(start time, state, command line) of a live process; None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in "ZX" else (fields[19], fields[0], command)


def descendants(root: int) -> dict:
    """{pid: (start time, state, command line)} of every live process below ``root``."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in found:
                info = _process(pid)
                if info is not None:
                    found[pid] = info
                    frontier.append(pid)
    return found


def wait_until_gone(processes: dict, seconds: float = 30) -> dict:
    """Those of ``processes`` still alive (same pid and start time) after waiting up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        alive = {pid: info for pid, info in processes.items() if (_process(pid) or (None,))[0] == info[0]}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)
