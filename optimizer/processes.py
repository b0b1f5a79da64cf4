"""Worker processes that die with their parent.

A ``kill -9`` of ``lastmile plan`` (or of the service) gives its process no chance to stop
its solver workers: they would run on as orphans, holding memory and cores. Every pool of
worker processes is made with :func:`worker_pool` (or runs :func:`die_with_parent` first
in its child), so a worker dies as soon as its parent does:

* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker when the
  thread that started it exits (the pool's owner: a ``with`` block outlives its workers;
  with a fork server, the server, which exits when its owner does);
* elsewhere, a daemon thread that checks every :data:`WATCHDOG_PERIOD_S` whether the
  parent's pid is still the worker's parent, and kills the worker otherwise; the same for
  the pool's owner when a fork server it does not own started the worker.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCHDOG_PERIOD_S = 0.5


def die_with_parent(owner_pid: int | None = None) -> None:
    """Make the calling process die when its parent dies, and when ``owner_pid`` (the
    process that asked for it) dies if that is not the parent (a worker a fork server
    started for it). Kills it now if either is gone already. Safe to call more than once."""
    parent_pid = os.getppid()
    armed = sys.platform.startswith("linux") and _set_parent_death_signal()
    if not armed:
        _watch(lambda: os.getppid() == parent_pid)
    if owner_pid is not None and owner_pid != parent_pid:
        _watch(lambda: _alive(owner_pid))
    # The parent (or the owner) may have died before the signal was armed.
    if os.getppid() != parent_pid or (owner_pid is not None and not _alive(owner_pid)):
        _kill_self()


def _watch(still_there) -> None:
    """A daemon thread that kills this process once ``still_there()`` is false."""

    def watch() -> None:
        while still_there():
            time.sleep(WATCHDOG_PERIOD_S)
        _kill_self()

    threading.Thread(target=watch, name="lastmile-parent-watchdog", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's: not the owner, but do not die for it
        return True
    return True


def _kill_self() -> None:
    os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def _set_parent_death_signal() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def worker_pool(max_workers: int, mp_context: Any = None, **options: Any) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` whose workers die with this process (see the module)."""
    return ProcessPoolExecutor(
        max_workers=max_workers,
        mp_context=mp_context,
        initializer=die_with_parent,
        initargs=(os.getpid(),),
        **options,
    )
