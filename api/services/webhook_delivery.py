"""The deliverer: a thread of the service that claims due webhook deliveries from the
outbox, signs them and POSTs them to their subscription's URL (and nowhere else: no
redirect is followed), with exponential backoff, until delivered or ``failed``.

A claim pushes ``next_attempt_at`` past the attempt's timeout in the claiming
transaction (rows locked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two instances
never send one attempt together, and an attempt cut short by a crash is tried again once
its claim lapses: delivery is at least once, and a receiver de-duplicates on the
``webhook-id`` header, the same on every attempt.

Signatures follow Standard Webhooks (https://www.standardwebhooks.com): HMAC-SHA256,
keyed with the base64-decoded part of the subscription's ``whsec_`` secret, over
``{webhook-id}.{webhook-timestamp}.{body}``, sent as ``webhook-signature: v1,<base64>``.

Unless ``LASTMILE_WEBHOOK_ALLOW_PRIVATE`` is set, a URL whose host is (or resolves to) a
private, loopback, link-local or otherwise non-global address is refused
(:func:`refused_target`): at subscription, and again before every attempt (a name's
addresses can change after it was subscribed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from api.clock import Clock
from api.db import Database
from api.models.webhooks import OutboxEvent, WebhookDelivery, WebhookSubscription
from api.settings import Settings

log = logging.getLogger("lastmile.webhooks")
CLAIM_BATCH = 20
CLAIM_MARGIN_S = 30.0  # a claim lapses this long after the attempt's timeout
MAX_ERROR_CHARS = 500


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header of ``body`` sent as ``webhook_id`` at
    ``timestamp`` (Unix seconds), signed with ``secret`` (``whsec_<base64>``)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def refused_target(url: str) -> str | None:
    """Why a webhook may not be sent to ``url`` when private addresses are not allowed
    (its host is, or resolves to, an address that is not global: private, loopback,
    link-local, shared, reserved, multicast), or None. A name that does not resolve is
    not refused here: its attempts fail on their own."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in found]
    for address in addresses:
        mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
        address = mapped or address
        if not address.is_global or address.is_multicast:
            return (
                f"{host} is a private or local address ({address}); such webhook URLs "
                "need LASTMILE_WEBHOOK_ALLOW_PRIVATE=true"
            )
    return None


def backoff_s(attempts: int, base_s: float, max_s: float) -> float:
    """The wait after the ``attempts``-th failed attempt: ``base_s * 2**(attempts-1)``,
    capped at ``max_s``."""
    return min(max_s, base_s * 2 ** min(attempts - 1, 60))


@dataclass(frozen=True)
class Attempt:
    """One claimed attempt: what to send, where."""

    delivery_id: str
    url: str
    secret: str
    body: bytes


class Deliverer:
    """Sends the outbox's due deliveries every ``settings.webhook_poll_s`` from a thread
    (:meth:`start`, :meth:`stop`); :meth:`deliver_due` is one round."""

    def __init__(self, db: Database, clock: Clock, settings: Settings):
        self.db, self.clock, self.settings = db, clock, settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.webhook_timeout_s + 5)

    def _run(self) -> None:
        with httpx.Client(timeout=self.settings.webhook_timeout_s, follow_redirects=False) as http:
            while not self._stop.wait(self.settings.webhook_poll_s):
                try:
                    while self.deliver_due(http) and not self._stop.is_set():
                        pass
                except Exception:  # the database away for a moment: next round
                    log.exception("webhook delivery round failed")

    def deliver_due(self, http: httpx.Client) -> int:
        """Claim the due deliveries (a batch), send each; how many were tried."""
        claimed = self._claim()
        for done, attempt in enumerate(claimed):
            if self._stop.is_set():  # stopping: the rest are given back, untried
                self._unclaim([a.delivery_id for a in claimed[done:]])
                break
            error = self._send(http, attempt)
            self._record(attempt.delivery_id, error)
        return len(claimed)

    def _unclaim(self, delivery_ids: list[str]) -> None:
        now = self.clock.now()
        with self.db.transaction() as s:
            for delivery_id in delivery_ids:
                delivery = s.get(WebhookDelivery, delivery_id, with_for_update=True)
                if delivery is not None and delivery.status == "pending":
                    delivery.attempts -= 1
                    delivery.next_attempt_at = now

    def _claim(self) -> list[Attempt]:
        now = self.clock.now()
        lapse = timedelta(seconds=self.settings.webhook_timeout_s + CLAIM_MARGIN_S)
        due = (
            select(WebhookDelivery, WebhookSubscription, OutboxEvent)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_pk)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.event_pk, WebhookDelivery.id)
            .limit(CLAIM_BATCH)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
        claimed = []
        with self.db.transaction() as s:
            for delivery, sub, event in s.execute(due).all():
                delivery.attempts += 1
                delivery.next_attempt_at = now + lapse
                claimed.append(
                    Attempt(delivery.id, sub.url, sub.secret, event.payload_json.encode())
                )
        return claimed

    def _send(self, http: httpx.Client, attempt: Attempt) -> str | None:
        """POST ``attempt``; None when the receiver answered 2xx, else what went wrong."""
        if not self.settings.webhook_allow_private:
            refused = refused_target(attempt.url)
            if refused is not None:
                return f"refused: {refused}"[:MAX_ERROR_CHARS]
        timestamp = int(self.clock.now().timestamp())
        headers = {
            "content-type": "application/json",
            "user-agent": "lastmile-webhooks",
            "webhook-id": attempt.delivery_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(
                attempt.secret, attempt.delivery_id, timestamp, attempt.body
            ),
        }
        try:
            answer = http.post(attempt.url, content=attempt.body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS] or type(exc).__name__
        if 200 <= answer.status_code < 300:
            return None
        return f"HTTP {answer.status_code}"

    def _record(self, delivery_id: str, error: str | None) -> None:
        now: datetime = self.clock.now()
        with self.db.transaction() as s:
            delivery = s.get(WebhookDelivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.status != "pending":
                return
            delivery.last_error = error
            if error is None:
                delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                    "delivered", now, None)  # fmt: skip
            elif delivery.attempts >= self.settings.webhook_attempts:
                delivery.status, delivery.next_attempt_at = "failed", None
                log.warning("webhook %s failed after %d attempts: %s", delivery_id,
                            delivery.attempts, error)  # fmt: skip
            else:
                wait_s = backoff_s(delivery.attempts, self.settings.webhook_backoff_s,
                                   self.settings.webhook_backoff_max_s)  # fmt: skip
                delivery.next_attempt_at = now + timedelta(seconds=wait_s)
