"""The real service for the end-to-end tests: ``python -m cli serve`` (uvicorn) in a
subprocess on a free port of 127.0.0.1, on a SQLite file, started and killed as an
operator would; and ``chain``, the documented example client
(``docs/examples/integration_chain.py``) that drives it."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.api_support import CHECKOUT_KEY, PLANNER_KEY
from tests.webhook_support import wait_for

ROOT = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location(
    "integration_chain", ROOT / "docs" / "examples" / "integration_chain.py"
)
chain = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(chain)
READY_S = 300.0  # a first start plans the Paris day (a 10 s budget) on a shared machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(tmp_path: Path, clock: str, log_name: str) -> tuple[subprocess.Popen, str]:
    """``python -m cli serve`` on a free port with the test's settings (every
    ``LASTMILE_*`` variable of the caller's environment dropped): the process and its
    base URL, once it answers ``/healthz``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LASTMILE_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "LASTMILE_DATABASE_URL": f"sqlite:///{tmp_path / 'lastmile.db'}",
        "LASTMILE_STATE_DIR": str(tmp_path),
        "LASTMILE_CHECKOUT_KEYS": CHECKOUT_KEY,
        "LASTMILE_PLANNER_KEYS": PLANNER_KEY,
        "LASTMILE_CLOCK": clock,
        "LASTMILE_PLAN_TIME_LIMIT_S": "5",
        "LASTMILE_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on 127.0.0.1
        "LASTMILE_WEBHOOK_POLL_S": "0.1",
        "LASTMILE_WEBHOOK_BACKOFF_S": "0.2",
        "LASTMILE_WEBHOOK_BACKOFF_MAX_S": "1",
        "LASTMILE_WEBHOOK_ATTEMPTS": "50",  # pending, not failed, while the receiver is down
        "LASTMILE_WEBHOOK_TIMEOUT_S": "10",
    }
    command = [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = (tmp_path / log_name).open("wb")
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, (tmp_path / log_name).read_text()[-3000:]
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(up, READY_S, "the service to start")
    return process, base


def kill_9(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
