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
