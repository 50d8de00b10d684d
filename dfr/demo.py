"""`dfr demo`: the service on embedded defaults with the demo fleet, and a dispatcher token printed."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlmodel import select

from dfr.auth import create_token
from dfr.db import make_engine, session_scope, upgrade_schema
from dfr.fleet import DEMO_FLEET_FILE
from dfr.models import ApiToken, Role
from dfr.settings import load_settings


def _demo_token(url: str, name: str, role: Role) -> str:
    upgrade_schema(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            for old in session.exec(select(ApiToken).where(ApiToken.name == name)).all():
                session.delete(old)
            session.flush()
            _, secret = create_token(session, name, role)
            return secret
    finally:
        engine.dispose()


def run_demo(port: int, data_dir: Path) -> None:
    """Start the demo service and print how to reach it."""
    from dfr.cli import serve_app

    settings = load_settings(
        None, mode="demo", port=port, data_dir=data_dir, fleet_file=DEMO_FLEET_FILE
    )
    dispatcher = _demo_token(settings.database_url, "demo-dispatcher", Role.DISPATCHER)
    admin = _demo_token(settings.database_url, "demo-admin", Role.ADMIN)

    @asynccontextmanager
    async def announce(_app: Any) -> AsyncIterator[None]:
        base = f"http://{settings.host}:{settings.port}"
        sys.stderr.write(
            "\nDFR demo is running.\n"
            f"  console:          {base}/\n"
            f"  API docs:         {base}/docs\n"
            f"  dispatcher token: {dispatcher}\n"
            f"  admin token:      {admin}\n"
            "Press Ctrl-C to stop.\n\n"
        )
        yield

    serve_app(settings, extra_components=[announce])
