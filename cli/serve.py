"""``lastmile serve``: start the HTTP service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import fail, load


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port", min=1, max=65535)] = 8000,
    scenario: Annotated[
        Path | None,
        typer.Option(help="scenario folder to serve [default: data/paris, or LASTMILE_SCENARIO]"),
    ] = None,
) -> None:
    """Start the HTTP service (SQLite in .lastmile/ unless LASTMILE_DATABASE_URL is set)."""
    import uvicorn
    from pydantic import ValidationError

    from api.app import create_app
    from api.auth import KeyConfigError, configured_keys
    from api.settings import Settings

    try:
        settings = Settings(**({"scenario": scenario} if scenario else {}))
        configured_keys(settings)
    except (ValidationError, KeyConfigError) as exc:
        fail(f"bad LASTMILE_* setting: {exc}")
    load(settings.scenario)
    uvicorn.run(create_app(settings), host=host, port=port)
