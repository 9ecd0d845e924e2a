"""What the commands share: argument types, ``--set`` parsing, name lists, the log line."""

from __future__ import annotations

import argparse
import sys


class CommandError(RuntimeError):
    """A command cannot run as asked (an executor that cannot be made, ...); the message says why."""


def positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {value}")
    return seconds


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def add_overrides_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """The repeatable ``--set NAME=VALUE`` option (read with ``parse_overrides``)."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE", help=help)


def parse_overrides(pairs: list[str], steps: int | None) -> dict[str, str]:
    """``["lambda_max=0.5", ...]`` → ``{"lambda_max": "0.5", ...}`` (types are checked by the method)."""
    values: dict[str, str] = {}
    for item in pairs:
        name, separator, value = item.partition("=")
        if not separator or not name:
            raise ValueError(f"--set expects NAME=VALUE, got {item!r}")
        values[name.strip()] = value.strip()
    if steps is not None:
        values["steps"] = str(steps)
    return values


def expand(values: list[str], known: list[str], what: str) -> list[str]:
    """``["all"]`` or comma-separated names → the names, checked against ``known``."""
    names: list[str] = []
    for value in values:
        for name in known if value == "all" else value.split(","):
            name = name.strip().replace("-", "_") if what == "method" else name.strip()
            if name not in known:
                raise ValueError(f"Unknown {what} {name!r}; choose from: {', '.join(known)} or all")
            if name not in names:
                names.append(name)
    return names


def log_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
