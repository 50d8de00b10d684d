"""Serving the app: uvicorn on the settings' host and port until interrupted."""

from __future__ import annotations

from collections.abc import Sequence

import uvicorn

from dfr.main import Companion, create_app
from dfr.settings import Settings


def serve_app(settings: Settings, companions: Sequence[Companion] = ()) -> None:
    """Run the service (and its companions) with uvicorn until interrupted."""
    application = create_app(settings, companions=companions)
    # In JSON mode uvicorn's own loggers go through the root handler, so every line is JSON.
    log_config = None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_level="info",
        log_config=log_config,
    )
