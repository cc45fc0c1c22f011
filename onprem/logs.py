"""Structured logs: one JSON object a line on stderr, as the estate's log shipper expects."""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from typing import Any

_lock = threading.Lock()


def log(level: str, message: str, **fields: Any) -> None:
    """``log("info", "event accepted", fixture_id="F1", offset=42)``: never formatted into the message."""
    line = json.dumps(
        {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "level": level, "message": message, **fields},
        default=str,
    )
    with _lock:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
