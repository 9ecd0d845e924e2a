"""An appendable records file: one JSON object per line, each written whole as its trial finishes.

A sweep interrupted at any moment leaves every finished trial's record intact; several processes
may append to one file at once (a lock guards each write). Reading (``schemas.read_lines``) never
drops a line silently: a line that is not such a record is an error naming its line and field.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from .schemas import RecordsError, read_lines

__all__ = ["RecordsError", "append_record", "check_writable", "read_lines"]


def append_record(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Append ``record`` as one line, under an exclusive lock, flushed to disk before returning."""
    line = json.dumps(record, sort_keys=True, allow_nan=False)
    path = Path(path)
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_writable(path: str | os.PathLike) -> Path:
    """Raise ``RecordsError`` unless ``path`` can be appended to (its folder is created if needed)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as error:
        raise RecordsError(f"Cannot write the records file {path}: {error.strerror or error}") from None
    return path
