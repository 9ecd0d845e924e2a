"""Checkpoints crafted to trick the loader, and how fast and lean each refusal is:
``python -m da_demo.benchmarks.crafted_checkpoints``.

Each file is loaded in a fresh process; the table gives the error, the seconds it took and the
extra peak memory (resident set) over the process after imports. Goal: every one a
``CheckpointError`` in under 1 s and 50 MB.
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from ..artifacts.checkpoints import FORMAT, METADATA_KEY, save_checkpoint
from ..models import build_classifier
from ..reporting import format_markdown

GOOD = {
    "method": "dann",
    "pair": "mnist-usps",
    "backbone": "lean",
    "format": FORMAT,
    "in_channels": 1,
    "num_classes": 10,
    "image_size": 28,
}


def crafted_checkpoints(folder: Path) -> dict[str, Path]:
    """Files that must each be refused with a ``CheckpointError``, by what is wrong with them."""
    folder.mkdir(parents=True, exist_ok=True)
    small = {"classifier.head.weight": torch.zeros(10, 128)}
    files: dict[str, Path] = {}

    def with_header(name: str, metadata) -> None:
        files[name] = folder / f"{name}.safetensors"
        save_file(
            small,
            files[name],
            metadata={METADATA_KEY: metadata if isinstance(metadata, str) else json.dumps(metadata)},
        )

    with_header("header is a JSON list", [1, 2, 3])
    with_header("deeply nested header", "[" * 100_000 + "]" * 100_000)
    with_header("missing backbone", {k: v for k, v in GOOD.items() if k != "backbone"})
    with_header("huge class count", {**GOOD, "num_classes": 10**9})
    with_header("huge image size", {**GOOD, "image_size": 10**6})
    with_header("channels as text", {**GOOD, "in_channels": "3"})
    with_header("unknown backbone", {**GOOD, "backbone": "resnet1000"})
    with_header("weights of another shape", GOOD)
    files["absurd header length"] = folder / "absurd-header-length.safetensors"
    files["absurd header length"].write_bytes(struct.pack("<Q", 2**62) + b"{}")
    files["not safetensors at all"] = folder / "pickle.safetensors"
    files["not safetensors at all"].write_bytes(b"\x80\x04\x95" + b"\x00" * 64)
    files["truncated download"] = folder / "truncated.safetensors"
    save_checkpoint(
        files["truncated download"],
        build_classifier("lean", 1),
        {k: GOOD[k] for k in ("method", "pair", "backbone")},
    )
    data = files["truncated download"].read_bytes()
    files["truncated download"].write_bytes(data[: len(data) // 2])
    return files


PROBE = """
import resource, sys, time
from da_demo.artifacts.checkpoints import CheckpointError, load_checkpoint
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    load_checkpoint(sys.argv[1]); outcome = "LOADED"
except CheckpointError as error:
    outcome = "CheckpointError: " + str(error)[:90]
except BaseException as error:
    outcome = type(error).__name__ + ": " + str(error)[:90]
seconds = time.perf_counter() - started
print(repr((outcome, seconds, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)))
"""


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(
        prog="python -m da_demo.benchmarks.crafted_checkpoints", description=__doc__
    ).parse_args(argv)
    rows, ok = [], True
    for name, path in crafted_checkpoints(Path(tempfile.mkdtemp())).items():
        result = subprocess.run(
            [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True
        )
        outcome, seconds, megabytes = eval(result.stdout.strip().splitlines()[-1])  # our own probe's tuple
        met = outcome.startswith("CheckpointError") and seconds < 1 and megabytes < 50
        ok &= met
        rows.append([name, outcome, f"{seconds:.3f}", f"{megabytes:.1f}", "✓" if met else "✗"])
    print(format_markdown(["crafted file", "outcome", "seconds", "extra peak MB", "goal"], rows))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
