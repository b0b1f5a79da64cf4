"""Worker processes die with their parent (issue 13, item 15): ``kill -9`` of
``lastmile plan --workers 2`` leaves no solver running, nor does a pool's worker outlive
the process that made the pool."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
WAIT_FOR_WORKERS_S = 120.0
ORPHANS_GONE_S = 5.0


def _wait_gone(processes: list[psutil.Process], within_s: float) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=within_s)
    return alive


def _kill_all(processes: list[psutil.Process]) -> None:
    for p in processes:  # cleanup of a failed test: only the processes it started
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


def test_kill_9_of_lastmile_plan_leaves_no_worker(tmp_path):
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "cli", "plan", str(ROOT / "data" / "paris")]
    command += ["--workers", "2", "--time-limit", "60", "--out", str(tmp_path / "out")]
    parent = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    me = psutil.Process(parent.pid)
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + WAIT_FOR_WORKERS_S
        while len(children) < 2:
            assert parent.poll() is None, "lastmile plan ended before its workers started"
            assert time.monotonic() < deadline, "no workers within the wait"
            children = me.children(recursive=True)
            time.sleep(0.1)
        time.sleep(0.5)  # the workers past their initializer
        children = me.children(recursive=True)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        alive = _wait_gone(children, ORPHANS_GONE_S)
        assert not alive, f"orphans still running: {[p.pid for p in alive]}"
    finally:
        if parent.poll() is None:
            parent.kill()
        _kill_all(children)


def _pool_owner(ready_path: str) -> None:  # pragma: no cover - runs in a child
    """A process that starts a pool with one worker, writes the worker's pid, then
    waits to be killed."""
    from optimizer.processes import worker_pool

    with worker_pool(1) as pool:
        pid = pool.submit(os.getpid).result()
        Path(ready_path).write_text(str(pid))
        time.sleep(600)


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_pool_worker_dies_with_the_process_that_made_the_pool(tmp_path, method):
    import multiprocessing

    ready = tmp_path / "worker.pid"
    owner = multiprocessing.get_context(method).Process(target=_pool_owner, args=(str(ready),))
    owner.start()
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() or not ready.read_text():
            assert time.monotonic() < deadline and owner.is_alive()
            time.sleep(0.05)
        worker = psutil.Process(int(ready.read_text()))
        os.kill(owner.pid, signal.SIGKILL)
        owner.join(timeout=10)
        assert not _wait_gone([worker], ORPHANS_GONE_S), "the worker outlived its owner"
    finally:
        if owner.is_alive():
            owner.kill()
        if worker is not None:
            _kill_all([worker])
