"""API keys: two roles, sent as ``X-API-Key``, stored as SHA-256 hashes.

* ``checkout`` keys call the promise and hold endpoints; ``planner`` keys call plans,
  stock and scenario endpoints. A key of one role gets 403 from the other's endpoints;
  no key or an unknown key gets 401.
* Keys come from ``LASTMILE_CHECKOUT_KEYS`` / ``LASTMILE_PLANNER_KEYS`` and the file
  ``LASTMILE_API_KEYS_FILE``. At every start the database is made to hold exactly the
  configured keys of a role; a role with none configured keeps the key generated for it
  at first start, or gets one now, printed once to stderr (like Jupyter's token). The
  service never runs open.
"""

from __future__ import annotations

import hashlib
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from fastapi import HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from sqlalchemy import func, select

from api.db import Database
from api.models import KV, ApiKey
from api.settings import Settings

Role = Literal["checkout", "planner"]
ROLES: tuple[str, ...] = get_args(Role)
MIN_KEY_LENGTH = 16
MAX_KEY_LENGTH = 256
# pg_advisory_xact_lock key: two processes starting together configure keys in turn.
KEYS_LOCK = 0x6C6D_0002

api_key_header = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    description="A `checkout` or `planner` key (see the endpoint's description).",
    auto_error=False,
)


ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}


def error_response(description: str) -> dict[str, Any]:
    """An OpenAPI response ``{"detail": "..."}`` in JSON. (FastAPI would document a
    ``model=`` response in the endpoint's own media type, HTML for a map.)"""
    return {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}}}


# For a router's ``responses=``: documents the 401 and 403 of keyed endpoints.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: error_response("No key, or a key the service does not know."),
    403: error_response("A key of the other role."),
}


class KeyConfigError(ValueError):
    """Configured keys the service refuses (too short, in two roles, a malformed file)."""


def hash_key(key: str) -> str:
    """What the database stores for ``key``: its SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# -- configuration at startup -------------------------------------------------------------


def configured_keys(settings: Settings) -> dict[str, tuple[str, str]]:
    """``{key: (role, source)}`` from the environment and the keys file, validated."""
    found: dict[str, tuple[str, str]] = {}

    def add(key: object, role: str, source: str, where: str) -> None:
        if not isinstance(key, str) or not _well_formed(key):
            raise KeyConfigError(
                f"{where}: an API key is {MIN_KEY_LENGTH}-{MAX_KEY_LENGTH} visible ASCII "
                "characters (no spaces or commas)"
            )
        if key in found and found[key][0] != role:
            raise KeyConfigError(f"{where}: the same key is also a {found[key][0]} key")
        found.setdefault(key, (role, source))

    for role, keys in (("checkout", settings.checkout_keys), ("planner", settings.planner_keys)):
        for i, key in enumerate(keys):
            add(key, role, "env", f"LASTMILE_{role.upper()}_KEYS[{i}]")
    if settings.api_keys_file is not None:
        for role, keys in _read_keys_file(settings.api_keys_file).items():
            for i, key in enumerate(keys):
                add(key, role, "file", f"{settings.api_keys_file}: {role}[{i}]")
    return found


def _well_formed(key: str) -> bool:
    return (
        MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH
        and key.isascii()
        and key.isprintable()
        and " " not in key
        and "," not in key
    )


def _read_keys_file(path: Path) -> dict[str, list]:
    """``{checkout: [...], planner: [...]}`` from a YAML (or JSON, which is YAML) file."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KeyConfigError(f"{path}: cannot read the API keys file ({exc})") from exc
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise KeyConfigError(f"{path}: expected a mapping {{checkout: [keys], planner: [keys]}}")
    unknown = sorted(str(k) for k in document if k not in ROLES)
    if unknown:
        raise KeyConfigError(f"{path}: unknown role {unknown[0]!r}; roles are {list(ROLES)}")
    out = {}
    for role, keys in document.items():
        if keys is None:
            continue
        if not isinstance(keys, list):
            raise KeyConfigError(f"{path}: {role}: expected a list of keys")
        out[role] = keys
    return out


def configure_keys(db: Database, settings: Settings) -> dict[str, str]:
    """Make the stored keys match the configuration; return the keys generated now
    (``{role: key}``), which the caller shows once: only their hashes are kept."""
    configured = configured_keys(settings)
    wanted = {hash_key(k): (role, source, k[:6]) for k, (role, source) in configured.items()}
    configured_roles = {role for role, _, _ in wanted.values()}
    generated: dict[str, str] = {}
    with db.transaction() as session:
        if db.dialect == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(KEYS_LOCK)))
        rows = session.scalars(select(ApiKey)).all()
        kept_roles = set()
        for row in rows:
            if row.key_hash in wanted:
                row.role, row.source, _ = wanted.pop(row.key_hash)
            elif row.source != "generated" or row.role in configured_roles:
                session.delete(row)  # no longer configured, or replaced by configured keys
                continue
            kept_roles.add(row.role)
        for digest, (role, source, prefix) in wanted.items():
            session.add(ApiKey(role=role, key_hash=digest, key_prefix=prefix, source=source))
            kept_roles.add(role)
        for role in ROLES:
            if role not in kept_roles:
                key = secrets.token_urlsafe(32)
                digest = hash_key(key)
                session.add(
                    ApiKey(role=role, key_hash=digest, key_prefix=key[:6], source="generated")
                )
                generated[role] = key
    return generated


def announce_generated_keys(generated: dict[str, str]) -> None:
    """Print keys generated at this start, once, to stderr."""
    if generated:
        shown = " ".join(f"{role}={key}" for role, key in sorted(generated.items()))
        print(f"lastmile: created API keys (shown once): {shown}", file=sys.stderr, flush=True)


def server_secret(db: Database) -> bytes:
    """A random secret created at first start and kept in ``kv`` (for signing tokens)."""
    with db.transaction() as session:
        row = session.get(KV, "server_secret")
        if row is None:
            row = KV(key="server_secret", value=secrets.token_hex(32))
            session.add(row)
        return bytes.fromhex(row.value)


# -- checking a request -------------------------------------------------------------------


class KeyStore:
    """Valid key hashes and their roles, read from the database at most every ``ttl_s``
    seconds, so a request costs one SHA-256 and a dict lookup. Keys added or revoked by
    another process take effect within ``ttl_s``.

    The lookup is by the SHA-256 of the presented key, so its timing can only tell an
    attacker about hashes, which does not help to find a key: no constant-time compare is
    needed on this path.
    """

    def __init__(self, db: Database, ttl_s: float = 5.0):
        self.db = db
        self.ttl_s = ttl_s
        self._roles: dict[str, str] = {}
        self._loaded = -float("inf")
        self._lock = threading.Lock()

    def role_of(self, key: str) -> str | None:
        """The role of ``key``, or None for a key the service does not know."""
        if time.monotonic() - self._loaded > self.ttl_s:
            self.reload()
        return self._roles.get(hash_key(key))

    def reload(self) -> None:
        with self._lock:
            with self.db.transaction(write=False) as session:
                rows = session.execute(select(ApiKey.key_hash, ApiKey.role)).all()
            self._roles = dict(rows)  # swapped whole: readers never see half a table
            self._loaded = time.monotonic()


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's role and its first characters (for logs)."""

    role: str
    key_prefix: str


@cache
def require_role(role: Role) -> Callable[..., Caller]:
    """A FastAPI dependency admitting keys of ``role`` only, returning the :class:`Caller`.

    On a router: ``APIRouter(dependencies=[Depends(require_role("planner"))])``; on an
    endpoint: ``caller: Annotated[Caller, Depends(require_role("checkout"))]``.
    """
    if role not in ROLES:
        raise ValueError(f"role {role!r} not understood; one of {list(ROLES)}.")

    def check_key(
        request: Request, api_key: Annotated[str | None, Security(api_key_header)] = None
    ) -> Caller:
        if not api_key:
            raise _unauthorized("missing API key: send it in the X-API-Key header")
        found = request.app.state.keys.role_of(api_key)
        if found is None:
            raise _unauthorized("unknown API key")
        if found != role:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this is a {found} key; this endpoint needs a {role} key",
            )
        return Caller(role=found, key_prefix=api_key[:6])

    check_key.__name__ = f"require_{role}_key"
    return check_key


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "ApiKey"}
    )
