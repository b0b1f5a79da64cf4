"""Keep customers' tracking tokens out of the logs.

Uvicorn's access log prints each request's path with its query string, and a customer's
tracking link carries its token there (``/track/{id}?token=...``,
``/v1/orders/{id}/tracking?token=...``): anyone reading the log could open the orders.
:class:`RedactTokens` replaces the value of every ``token=`` query parameter in a log
record's message and arguments with ``[redacted]``; :func:`install` puts it on uvicorn's
and the service's loggers (``create_app`` does, and again at start, after uvicorn has
configured its logging).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

LOGGERS = ("uvicorn.access", "uvicorn.error", "lastmile.api")
REDACTED = "[redacted]"
_TOKEN = re.compile(r"((?:^|[?&;])token=)[^&;#\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the value of every ``token=`` query parameter replaced."""
    return _TOKEN.sub(lambda m: m.group(1) + REDACTED, text) if "token=" in text.lower() else text


def _redacted(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """A filter that redacts tokens in a record (it never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {k: _redacted(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        return True


def install() -> None:
    """Put :class:`RedactTokens` on the access, error and service loggers (once each)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
