"""An appendable records file: one JSON object per line, each written whole as its trial finishes.

A sweep interrupted at any moment leaves every finished trial's record intact; several processes
may append to one file at once (a lock guards each write). Reading never drops a line silently: a
line that is not a JSON object is an error that names its line number.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any


class RecordsError(ValueError):
    """The records file cannot be read or written; the message says where and why."""


def read_records(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every record in ``path`` ([] when it does not exist yet)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise RecordsError(
                    f"{path}, line {number}: not valid JSON ({error.msg}); fix or delete that line"
                ) from None
            if not isinstance(record, dict):
                raise RecordsError(
                    f"{path}, line {number}: expected a JSON object, found {type(record).__name__}"
                )
            records.append(record)
    return records


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
