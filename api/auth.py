"""API keys: three roles, sent as ``X-API-Key``, stored as SHA-256 hashes.

* ``checkout`` keys call the promise and hold endpoints; ``planner`` keys call plans,
  stock, scenario and tracking endpoints; ``driver`` keys are scoped to vehicles: they
  report those vehicles' events and read their live state, nothing else. A key of a
  role an endpoint does not admit gets 403; no key or an unknown key gets 401.
* Keys come from ``LASTMILE_CHECKOUT_KEYS`` / ``LASTMILE_PLANNER_KEYS`` /
  ``LASTMILE_DRIVER_KEYS`` and the file ``LASTMILE_API_KEYS_FILE``. At every start the
  database is made to hold exactly the configured keys of a role (a driver key with its
  vehicles); a checkout or planner role with none configured keeps the key generated for
  it at first start, or gets one now, printed once to stderr (like Jupyter's token). The
  service never runs open. Driver keys are never generated: they name their vehicles.
* Keys can also be managed in the database, from the command line (``lastmile keys
  list|add|revoke|rotate``: :func:`add_key`, :func:`revoke_key`, :func:`rotate_keys`),
  for a role with no configured keys: like generated keys they are kept across starts,
  and a running service sees a change within :attr:`KeyStore.ttl_s`.
"""

from __future__ import annotations

import hashlib
import json
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
from fastapi import Request, Security, status
from fastapi.security import APIKeyHeader
from sqlalchemy import func, select

from api.db import Database
from api.errors import ApiError, message
from api.models import ApiKey
from api.settings import Settings
from optimizer.io.file_limits import MAX_KEYS_FILE_BYTES, FileTooLargeError, read_text_within

Role = Literal["checkout", "planner", "driver"]
ROLES: tuple[str, ...] = get_args(Role)
# Roles that get a key generated when none is configured (a driver key needs vehicles).
GENERATED_ROLES = ("checkout", "planner")
# Sources of keys kept in the database alone (not configured): kept across starts for a
# role with no configured keys, managed with ``lastmile keys``.
STORED_SOURCES = ("generated", "cli")
MIN_KEY_LENGTH = 16
MAX_KEY_LENGTH = 256
MAX_VEHICLE_ID_LENGTH = 128  # as an event's vehicle_id
MISSING_KEY = "missing API key: send it in the X-API-Key header"
UNKNOWN_KEY = "unknown API key"
# pg_advisory_xact_lock key: two processes starting together configure keys in turn.
KEYS_LOCK = 0x6C6D_0002

api_key_header = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    description="A `checkout`, `planner` or `driver` key (see the endpoint's description).",
    auto_error=False,
)


class KeyConfigError(ValueError):
    """Configured keys the service refuses (too short, in two roles, a malformed file, a
    driver key without vehicles); the message lists every problem with where it is."""


def hash_key(key: str) -> str:
    """What the database stores for ``key``: its SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# -- configuration at startup -------------------------------------------------------------


@dataclass(frozen=True)
class KeyGrant:
    """What a configured key may do: its role, where it was configured (``env``,
    ``file``), and for a driver key the vehicles it reports for."""

    role: str
    source: str
    vehicle_ids: tuple[str, ...] = ()


def configured_keys(settings: Settings) -> dict[str, KeyGrant]:
    """``{key: grant}`` from the environment and the keys file, validated: every
    problem is listed in one :class:`KeyConfigError`."""
    found: dict[str, KeyGrant] = {}
    problems: list[str] = []

    def add(key: object, grant: KeyGrant, where: str) -> None:
        if not isinstance(key, str) or not _well_formed(key):
            problems.append(
                f"{where}: an API key is {MIN_KEY_LENGTH}-{MAX_KEY_LENGTH} visible ASCII "
                "characters (no spaces or commas)"
            )
            return
        seen = found.get(key)
        if seen is not None and seen.role != grant.role:
            problems.append(f"{where}: the same key is also a {seen.role} key")
        elif seen is not None and set(seen.vehicle_ids) != set(grant.vehicle_ids):
            problems.append(
                f"{where}: the same driver key is configured before with other vehicles "
                f"({', '.join(seen.vehicle_ids)})"
            )
        else:
            found.setdefault(key, grant)

    for role, keys in (("checkout", settings.checkout_keys), ("planner", settings.planner_keys)):
        for i, key in enumerate(keys):
            add(key, KeyGrant(role, "env"), f"LASTMILE_{role.upper()}_KEYS[{i}]")
    for i, entry in enumerate(settings.driver_keys):
        where = f"LASTMILE_DRIVER_KEYS[{i}]"
        key, sep, vehicles = entry.partition(":")
        if not sep:
            problems.append(
                f"{where}: expected KEY:VEHICLE[,VEHICLE...] (entries separated by ';')"
            )
            continue
        ids = [v.strip() for v in vehicles.split(",") if v.strip()]
        if _vehicles_ok(ids, where, problems):
            add(key.strip(), KeyGrant("driver", "env", tuple(ids)), where)
    if settings.api_keys_file is not None:
        path = settings.api_keys_file
        try:
            document = _read_keys_file(path)
        except KeyConfigError as exc:
            problems.append(str(exc))
            document = {}
        for role, keys in document.items():
            if role != "driver":
                for i, key in enumerate(keys):
                    add(key, KeyGrant(role, "file"), f"{path}: {role}[{i}]")
                continue
            for j, (key, ids) in enumerate(keys.items()):
                # Named by position and first characters, as keys are in logs.
                where = f"{path}: driver[{j}] ({str(key)[:6]}...)"
                if not isinstance(ids, list) or not all(isinstance(v, str) for v in ids):
                    problems.append(f"{where}: expected a list of vehicle ids")
                elif _vehicles_ok(ids, where, problems):
                    add(key, KeyGrant("driver", "file", tuple(ids)), where)
    if problems:
        raise KeyConfigError("; ".join(problems))
    return found


def _vehicles_ok(ids: list[str], where: str, problems: list[str]) -> bool:
    """A driver key's vehicle ids: at least one, each 1-128 visible characters."""
    if not ids:
        problems.append(f"{where}: a driver key needs at least one vehicle id")
        return False
    bad = [
        v
        for v in ids
        if not (0 < len(v) <= MAX_VEHICLE_ID_LENGTH and v.isprintable() and v == v.strip())
    ]
    for v in bad:
        problems.append(
            f"{where}: vehicle id {_shown(v)} is not 1-{MAX_VEHICLE_ID_LENGTH} visible characters"
        )
    return not bad


def _shown(value: str) -> str:
    """A configured vehicle id quoted for an error message, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _well_formed(key: str) -> bool:
    return (
        MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH
        and key.isascii()
        and key.isprintable()
        and " " not in key
        and "," not in key
    )


def _read_keys_file(path: Path) -> dict[str, Any]:
    """``{checkout: [...], planner: [...], driver: {key: [vehicle ids]}}`` from a YAML (or
    JSON, which is YAML) file, at most :data:`MAX_KEYS_FILE_BYTES` (checked before it is
    read: a YAML file of that size is parsed at once)."""
    try:
        text = read_text_within(path, MAX_KEYS_FILE_BYTES, "an API keys file")
    except FileTooLargeError as exc:
        raise KeyConfigError(f"{exc} (LASTMILE_API_KEYS_FILE; see the README)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyConfigError(f"{path}: cannot read the API keys file ({exc})") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KeyConfigError(f"{path}: cannot read the API keys file ({exc})") from exc
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise KeyConfigError(
            f"{path}: expected a mapping {{checkout: [keys], planner: [keys], "
            "driver: {key: [vehicle ids]}}"
        )
    unknown = sorted(str(k) for k in document if k not in ROLES)
    if unknown:
        raise KeyConfigError(f"{path}: unknown role {unknown[0]!r}; roles are {list(ROLES)}")
    out = {}
    for role, keys in document.items():
        if keys is None:
            continue
        if role == "driver" and not isinstance(keys, dict):
            raise KeyConfigError(f"{path}: driver: expected a mapping {{key: [vehicle ids]}}")
        if role != "driver" and not isinstance(keys, list):
            raise KeyConfigError(f"{path}: {role}: expected a list of keys")
        out[role] = keys
    return out


def configure_keys(db: Database, settings: Settings) -> dict[str, str]:
    """Make the stored keys match the configuration; return the keys generated now
    (``{role: key}``), which the caller shows once: only their hashes are kept."""
    configured = configured_keys(settings)
    wanted = {
        hash_key(k): (g.role, g.source, _vehicles_json(g), k[:6]) for k, g in configured.items()
    }
    configured_roles = {role for role, _, _, _ in wanted.values()}
    generated: dict[str, str] = {}
    with db.transaction() as session:
        if db.dialect == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(KEYS_LOCK)))
        rows = session.scalars(select(ApiKey)).all()
        kept_roles = set()
        for row in rows:
            if row.key_hash in wanted:
                row.role, row.source, row.vehicle_ids, _ = wanted.pop(row.key_hash)
            elif row.source not in STORED_SOURCES or row.role in configured_roles:
                session.delete(row)  # no longer configured, or replaced by configured keys
                continue
            kept_roles.add(row.role)
        for digest, (role, source, vehicles, prefix) in wanted.items():
            row = ApiKey(role=role, key_hash=digest, key_prefix=prefix, source=source)
            row.vehicle_ids = vehicles
            session.add(row)
            kept_roles.add(role)
        for role in GENERATED_ROLES:
            if role not in kept_roles:
                key = new_key()
                session.add(_stored(key, role, "generated", ()))
                generated[role] = key
    return generated


def new_key() -> str:
    """A new random key (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


def _stored(key: str, role: str, source: str, vehicle_ids: tuple[str, ...]) -> ApiKey:
    row = ApiKey(role=role, key_hash=hash_key(key), key_prefix=key[:6], source=source)
    row.vehicle_ids = json.dumps(sorted(vehicle_ids)) if role == "driver" else None
    return row


# -- managing stored keys (``lastmile keys``) ---------------------------------------------


@dataclass(frozen=True)
class StoredKey:
    """A key as the database holds it: never the key, its first characters."""

    key_id: int
    role: str
    key_prefix: str
    source: str
    created_at: str
    vehicle_ids: tuple[str, ...] = ()


def list_keys(db: Database) -> list[StoredKey]:
    """Every key the database holds, oldest first."""
    with db.transaction(write=False) as session:
        rows = session.scalars(select(ApiKey).order_by(ApiKey.id)).all()
        return [_described(row) for row in rows]


def _described(row: ApiKey) -> StoredKey:
    return StoredKey(
        key_id=row.id,
        role=row.role,
        key_prefix=row.key_prefix,
        source=row.source,
        created_at=row.created_at.isoformat(timespec="seconds"),
        vehicle_ids=tuple(json.loads(row.vehicle_ids)) if row.vehicle_ids else (),
    )


def _check_managed(settings: Settings, role: str, vehicle_ids: tuple[str, ...]) -> None:
    """A key added from the command line must survive the next start: refused for a role
    whose keys are configured (the start keeps exactly those) or a driver without vehicles."""
    if role not in ROLES:
        raise KeyConfigError(f"role {role!r} not understood; one of {list(ROLES)}")
    if any(grant.role == role for grant in configured_keys(settings).values()):
        raise KeyConfigError(
            f"the {role} keys are configured (LASTMILE_{role.upper()}_KEYS or "
            "LASTMILE_API_KEYS_FILE): change them there and restart the service; a key "
            "added here would be removed at the next start"
        )
    problems: list[str] = []
    if role == "driver":
        _vehicles_ok(list(vehicle_ids), "--vehicle", problems)
    elif vehicle_ids:
        problems.append(f"only a driver key names vehicles, not a {role} key")
    if problems:
        raise KeyConfigError("; ".join(problems))


def add_key(
    db: Database, settings: Settings, role: str, vehicle_ids: tuple[str, ...] = ()
) -> tuple[StoredKey, str]:
    """Store a new key of ``role`` (a driver key for ``vehicle_ids``); return it described
    and the key itself, to show once: only its hash is kept."""
    _check_managed(settings, role, vehicle_ids)
    key = new_key()
    with db.transaction() as session:
        row = _stored(key, role, "cli", vehicle_ids)
        session.add(row)
        session.flush()
        return _described(row), key


def revoke_key(db: Database, key_id: int) -> StoredKey:
    """Delete the stored key ``key_id``; a configured key is refused (the next start would
    bring it back). ``KeyError`` for an id the database does not hold."""
    with db.transaction() as session:
        row = session.get(ApiKey, key_id)
        if row is None:
            raise KeyError(key_id)
        if row.source not in STORED_SOURCES:
            where = "LASTMILE_API_KEYS_FILE" if row.source == "file" else "the environment"
            raise KeyConfigError(
                f"key {key_id} ({row.key_prefix}...) is configured in {where}: remove it "
                "there and restart the service"
            )
        described = _described(row)
        session.delete(row)
        return described


def rotate_keys(
    db: Database, settings: Settings, role: str, vehicle_ids: tuple[str, ...] = ()
) -> tuple[StoredKey, str, list[StoredKey]]:
    """A new key of ``role`` in place of the role's stored keys (a driver role's with the
    same vehicles), in one transaction: ``(new key described, key, revoked keys)``."""
    _check_managed(settings, role, vehicle_ids)
    key = new_key()
    with db.transaction() as session:
        if db.dialect == "postgresql":
            session.execute(select(func.pg_advisory_xact_lock(KEYS_LOCK)))
        revoked = []
        for row in session.scalars(select(ApiKey).where(ApiKey.role == role)).all():
            same = role != "driver" or _described(row).vehicle_ids == tuple(sorted(vehicle_ids))
            if row.source in STORED_SOURCES and same:
                revoked.append(_described(row))
                session.delete(row)
        row = _stored(key, role, "cli", vehicle_ids)
        session.add(row)
        session.flush()
        return _described(row), key, revoked


def _vehicles_json(grant: KeyGrant) -> str | None:
    return json.dumps(sorted(grant.vehicle_ids)) if grant.role == "driver" else None


def unknown_vehicles(configured: dict[str, KeyGrant], fleet: set[str]) -> list[str]:
    """Warnings for driver keys naming vehicles the served scenario's fleet does not have
    (a typo, or a vehicle of another scenario's plans): the key works for the others."""
    out = []
    for key, grant in configured.items():
        missing = sorted(set(grant.vehicle_ids) - fleet)
        if missing:
            out.append(
                f"driver key {key[:6]}... names vehicles not in the served scenario's "
                f"fleet: {', '.join(missing)}"
            )
    return out


def announce_generated_keys(generated: dict[str, str]) -> None:
    """Print keys generated at this start, once, to stderr, and at every start how to get
    a new one (the database keeps only hashes: a lost key is replaced, not recovered)."""
    if generated:
        shown = " ".join(f"{role}={key}" for role, key in sorted(generated.items()))
        print(f"lastmile: created API keys (shown once): {shown}", file=sys.stderr, flush=True)
    print(
        "lastmile: API keys: `lastmile keys list` shows them; `lastmile keys rotate --role "
        "ROLE` makes a new one (with the same LASTMILE_* settings as the service)",
        file=sys.stderr,
        flush=True,
    )


# -- checking a request -------------------------------------------------------------------


class KeyStore:
    """Valid key hashes and their grants, read from the database at most every ``ttl_s``
    seconds, so a request costs one SHA-256 and a dict lookup. Keys added or revoked by
    another process take effect within ``ttl_s``.

    The lookup is by the SHA-256 of the presented key, so its timing can only tell an
    attacker about hashes, which does not help to find a key: no constant-time compare is
    needed on this path.
    """

    def __init__(self, db: Database, ttl_s: float = 5.0):
        self.db = db
        self.ttl_s = ttl_s
        self._grants: dict[str, tuple[str, frozenset[str]]] = {}
        self._loaded = -float("inf")
        self._lock = threading.Lock()

    def grant_of(self, key: str) -> tuple[str, frozenset[str]] | None:
        """The role of ``key`` and its vehicles (a driver key's; empty for the other
        roles), or None for a key the service does not know."""
        if time.monotonic() - self._loaded > self.ttl_s:
            self.reload()
        return self._grants.get(hash_key(key))

    def reload(self) -> None:
        with self._lock:
            with self.db.transaction(write=False) as session:
                rows = session.execute(
                    select(ApiKey.key_hash, ApiKey.role, ApiKey.vehicle_ids)
                ).all()
            # Swapped whole: readers never see half a table.
            self._grants = {
                digest: (role, frozenset(json.loads(vehicles)) if vehicles else frozenset())
                for digest, role, vehicles in rows
            }
            self._loaded = time.monotonic()


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's role, its first characters (for logs) and, for a
    driver key, the vehicles it may report for."""

    role: str
    key_prefix: str
    vehicle_ids: frozenset[str] = frozenset()


@cache
def require_role(role: Role, *more: Role) -> Callable[..., Caller]:
    """A FastAPI dependency admitting keys of ``role`` (or of the ``more`` roles) only,
    returning the :class:`Caller`.

    On a router: ``APIRouter(dependencies=[Depends(require_role("planner"))])``; on an
    endpoint: ``caller: Annotated[Caller, Depends(require_role("planner", "driver"))]``
    (the endpoint then checks a driver's vehicles itself).
    """
    admitted = (role, *more)
    for r in admitted:
        if r not in ROLES:
            raise ValueError(f"role {r!r} not understood; one of {list(ROLES)}.")
    needs = " or ".join(admitted)

    def check_key(
        request: Request, api_key: Annotated[str | None, Security(api_key_header)] = None
    ) -> Caller:
        if not api_key:
            raise _unauthorized(MISSING_KEY)
        found = request.app.state.keys.grant_of(api_key)
        if found is None:
            raise _unauthorized(UNKNOWN_KEY)
        found_role, vehicles = found
        if found_role not in admitted:
            raise message(
                status.HTTP_403_FORBIDDEN,
                f"this is a {found_role} key; this endpoint needs a {needs} key",
            )
        return Caller(role=found_role, key_prefix=api_key[:6], vehicle_ids=vehicles)

    check_key.__name__ = f"require_{'_or_'.join(admitted)}_key"
    return check_key


def key_problem(keys: KeyStore, api_key: str | None) -> str | None:
    """Why ``api_key`` is refused with 401 (missing, unknown), or None for a key the
    service knows (of any role). Shared by the endpoints and the gate that checks a key
    before a request's body is read (:mod:`api.limits`)."""
    if not api_key:
        return MISSING_KEY
    if keys.grant_of(api_key) is None:
        return UNKNOWN_KEY
    return None


def _unauthorized(detail: str) -> ApiError:
    return message(status.HTTP_401_UNAUTHORIZED, detail, {"WWW-Authenticate": "ApiKey"})
