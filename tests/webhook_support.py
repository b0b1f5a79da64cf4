"""Helpers for the webhook tests: a real HTTP receiver on 127.0.0.1 that records what it
is sent, the receiver's signature check (as docs/webhooks.md shows it), and a wait."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    """An HTTP server on 127.0.0.1 recording every POST (headers, body) as it arrives; it
    answers the statuses of ``script`` in turn, then 200, each after ``delay_s`` (a slow
    receiver: a POST in flight is already recorded)."""

    def __init__(self, script=(), port=0, delay_s: float = 0.0):
        self.received: list[tuple[dict, bytes]] = []
        self.script = list(script)
        self.delay_s = delay_s
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(receiver.delay_s)
                try:
                    self.send_response(receiver.script.pop(0) if receiver.script else 200)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:  # the sender is gone (killed): nothing to answer
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def bodies(self):
        return [json.loads(body) for _, body in self.received]


@contextmanager
def receiving(script=(), delay_s: float = 0.0):
    receiver = Receiver(script, delay_s=delay_s)
    try:
        yield receiver
    finally:
        receiver.close()


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """The receiver's check, as docs/webhooks.md shows it."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.removeprefix("v1,") for s in headers["webhook-signature"].split()]
    return any(hmac.compare_digest(expected, s) for s in given)


def wait_for(check, timeout_s=30.0, what="the condition"):
    """``check()``'s first truthy answer, polled every 50 ms; the test fails after
    ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")
