"""No log line carries a token: the server's access and connection logs print request targets.

uvicorn logs each request's path with its query string (`GET /x?token=... HTTP/1.1`, `"WebSocket
/api/v1/stream?token=..." [accepted]`), and a client may put a token in any query even where it is
refused. A filter on those loggers rewrites the record's arguments before any handler sees them.
"""

from __future__ import annotations

import logging
import re

__all__ = ["TokenRedactingFilter", "redact", "redact_tokens_in_server_logs"]

#: The loggers that print request targets (uvicorn's access log and its connection messages).
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error")
_QUERY_SECRET = re.compile(
    r"((?:^|[?&;])(?:token|access_token|api_key|key)=)[^&;\s\"']*", re.IGNORECASE
)
_TOKEN = re.compile(r"dfr_[A-Za-z0-9_\-]{8,}")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` with query-string secrets and anything shaped like a DFR token replaced."""
    return _TOKEN.sub(REDACTED, _QUERY_SECRET.sub(r"\1" + REDACTED, text))


class TokenRedactingFilter(logging.Filter):
    """Rewrites a record's message and string arguments through `redact` (never drops one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; always keep the record."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


def redact_tokens_in_server_logs() -> None:
    """Install the filter on the server's loggers (once; logging configuration keeps it)."""
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in logger.filters):
            logger.addFilter(TokenRedactingFilter())
