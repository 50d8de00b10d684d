"""Log output: text lines (default) or one JSON object per line (`DFR_LOG_FORMAT=json`).

A JSON line has time, level, logger and message, plus the ids a log call passes with `extra=`
(call_id, flight_id, drone_id, event_id) so a log store can follow one call or flight.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

__all__ = ["EXTRA_FIELDS", "TEXT_FORMAT", "JsonFormatter", "configure_logging"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Record attributes copied to a JSON line when a log call sets them.
EXTRA_FIELDS = ("call_id", "flight_id", "drone_id", "event_id")


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object (no newline inside)."""

    def __init__(self, *, instance_id: str | None = None) -> None:
        super().__init__()
        self._instance_id = instance_id

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self._instance_id is not None:
            entry["instance_id"] = self._instance_id
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(
    log_format: str, *, instance_id: str | None = None, level: int = logging.INFO
) -> None:
    """Log to standard error at `level`, as JSON lines when `log_format` is "json"."""
    # httpx logs every request at INFO: a line per CAD delivery, which the outbox already records
    # (failures are logged by the outbox itself).
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))
    if log_format != "json":
        logging.basicConfig(level=level, format=TEXT_FORMAT)
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(instance_id=instance_id))
    logging.basicConfig(level=level, handlers=[handler], force=True)
