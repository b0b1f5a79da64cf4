"""``lastmile keys``: the service's API keys and server secret, on its database.

The commands read the same ``LASTMILE_*`` settings as ``lastmile serve`` (the database,
the state folder, the configured keys): run them with the service's environment. A new
key is printed once, alone on stdout (``KEY=$(lastmile keys add --role checkout)``);
the database keeps only its SHA-256. A running service sees added and revoked keys
within seconds; a rotated secret only once it restarts.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Annotated

import typer

from cli.console import errors, fail

keys_app = typer.Typer(
    no_args_is_help=True,
    help="API keys (list, add, revoke, rotate) and the server secret (rotate-secret).",
)

ROLE_HELP = "checkout, planner or driver"
VEHICLE_HELP = "a driver key's vehicle (repeat for several)"


def _database():
    """The service's settings and migrated database, or a clear error."""
    from pydantic import ValidationError

    from api.db import Database
    from api.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        fail(f"bad LASTMILE_* setting: {exc}")
    db = Database(settings.database_url)
    try:
        db.migrate()
    except Exception as exc:  # unreachable server, wrong password, not a database...
        db.dispose()
        fail(f"cannot open the service's database ({type(exc).__name__}: {exc})")
    return settings, db


def _show_new(key: str, what: str) -> None:
    errors.print(f"{what} (shown once: the database keeps only its hash):", highlight=False)
    sys.stdout.write(key + "\n")


@keys_app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="print the keys as JSON")] = False,
) -> None:
    """The keys the service's database holds: id, role, first characters, where it comes
    from (env, file, generated at first start, cli), vehicles of a driver key."""
    from api.auth import list_keys

    _, db = _database()
    try:
        keys = list_keys(db)
    finally:
        db.dispose()
    if as_json:
        sys.stdout.write(json.dumps([dataclasses.asdict(k) for k in keys], indent=2) + "\n")
        return
    for k in keys:
        vehicles = f"  vehicles {','.join(k.vehicle_ids)}" if k.vehicle_ids else ""
        typer.echo(
            f"{k.key_id:>4}  {k.role:<8}  {k.key_prefix}...  {k.source:<9}  {k.created_at}"
            f"{vehicles}"
        )
    if not keys:
        errors.print("no keys: the service makes a checkout and a planner key at its start")


@keys_app.command()
def add(
    role: Annotated[str, typer.Option(help=ROLE_HELP)],
    vehicle: Annotated[list[str] | None, typer.Option(help=VEHICLE_HELP)] = None,
) -> None:
    """A new key of ROLE, besides the role's others; printed once."""
    from api.auth import KeyConfigError, add_key

    settings, db = _database()
    try:
        stored, key = add_key(db, settings, role, tuple(vehicle or ()))
    except KeyConfigError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    _show_new(key, f"new {role} key {stored.key_id}")


@keys_app.command()
def revoke(key_id: Annotated[int, typer.Argument(help="the key's id (`lastmile keys list`)")]):
    """Delete a key made at first start or by this command; a running service refuses it
    within seconds. A configured key is removed from its configuration instead."""
    from api.auth import GENERATED_ROLES, KeyConfigError, list_keys, revoke_key

    _, db = _database()
    try:
        gone = revoke_key(db, key_id)
        left = [k for k in list_keys(db) if k.role == gone.role]
    except KeyError:
        fail(f"no key {key_id}: `lastmile keys list` shows the ids")
    except KeyConfigError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    errors.print(f"revoked {gone.role} key {key_id} ({gone.key_prefix}...)", highlight=False)
    if not left and gone.role in GENERATED_ROLES:
        errors.print(
            f"no {gone.role} key is left: the service makes a new one at its next start "
            f"(or: lastmile keys add --role {gone.role})",
            highlight=False,
        )


@keys_app.command()
def rotate(
    role: Annotated[str, typer.Option(help=ROLE_HELP)],
    vehicle: Annotated[list[str] | None, typer.Option(help=VEHICLE_HELP)] = None,
) -> None:
    """A new key of ROLE in place of the role's keys made at first start or by this
    command (a driver role's: those of the same vehicles); printed once. The old keys
    stop working within seconds: give the new one to their users first."""
    from api.auth import KeyConfigError, rotate_keys

    settings, db = _database()
    try:
        stored, key, revoked = rotate_keys(db, settings, role, tuple(vehicle or ()))
    except KeyConfigError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    for k in revoked:
        errors.print(f"revoked {k.role} key {k.key_id} ({k.key_prefix}...)", highlight=False)
    _show_new(key, f"new {role} key {stored.key_id}")


@keys_app.command("rotate-secret")
def rotate_secret() -> None:
    """Replace the server secret that signs tracking tokens and option ids. Every
    tracking link and option id signed before stops working; restart the service."""
    from api.secret import SecretError
    from api.secret import rotate_secret as rotate

    settings, db = _database()
    try:
        where = rotate(db, settings)
    except SecretError as exc:
        fail(str(exc))
    finally:
        db.dispose()
    errors.print(
        f"new server secret in {where}. Restart the service: until then it signs with the "
        "old one. Tracking links and option ids signed before no longer work (a checkout "
        "key's GET /v1/orders/{id}/tracking gives an order's new link).",
        highlight=False,
    )
