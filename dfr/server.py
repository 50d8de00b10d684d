"""Serving the app: uvicorn on the settings' host and port until interrupted."""

from __future__ import annotations

import gc
from collections.abc import Sequence

import uvicorn

from dfr.main import Companion, create_app
from dfr.settings import Settings


def freeze_imported_objects() -> None:
    """Leave every object alive now (the imported modules, mostly) out of later collections.

    A full collection walks every tracked object; over the service's imported heap it took
    0.2-0.3 s, a pause of the event loop that stops MAVLink heartbeats (at x20 speed-up 6 s of
    vehicle time: a data-link-loss failsafe). Frozen before the service starts, that heap is
    skipped and a full collection stays short.
    """
    gc.collect()
    gc.freeze()


def serve_app(settings: Settings, companions: Sequence[Companion] = ()) -> None:
    """Run the service (and its companions) with uvicorn until interrupted."""
    application = create_app(settings, companions=companions)
    freeze_imported_objects()
    # In JSON mode uvicorn's own loggers go through the root handler, so every line is JSON.
    log_config = None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG
    http = settings.http
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_level="info",
        log_config=log_config,
        access_log=http.access_log,
        ws_per_message_deflate=http.ws_per_message_deflate,
        ssl_certfile=None if http.tls_cert_file is None else str(http.tls_cert_file),
        ssl_keyfile=None if http.tls_key_file is None else str(http.tls_key_file),
        # uvicorn believes X-Forwarded-Proto/-For only from FORWARDED_ALLOW_IPS (default
        # 127.0.0.1): such a proxy saying https makes the request count as TLS (HSTS is sent).
        proxy_headers=True,
    )
