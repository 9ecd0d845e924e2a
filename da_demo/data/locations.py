"""Where datasets are read from and where derived data is cached.

Two folders matter:

* the **data directory** (``--data-dir`` or ``DA_DEMO_DATA_DIR``): raw datasets laid out as
  torchvision expects them (``MNIST/raw/*``, ``usps.bz2``, ``usps.t.bz2``,
  ``BSDS500/images/train/*.jpg``). When it is set, nothing is downloaded.
* the **cache directory** (``DA_DEMO_CACHE_DIR``, default ``~/.cache/da_demo``): downloads when no
  data directory is set, plus what we derive (extracted MNIST files, MNIST-M, ready tensors).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

DATA_DIR_ENV = "DA_DEMO_DATA_DIR"
CACHE_DIR_ENV = "DA_DEMO_CACHE_DIR"


class DataMissingError(RuntimeError):
    """A dataset is neither in the data directory nor downloadable; the message says what to put where."""


def data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The data directory: the explicit argument, else ``$DA_DEMO_DATA_DIR``, else None (download)."""
    value = explicit if explicit is not None else os.environ.get(DATA_DIR_ENV)
    if value in (None, ""):
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DataMissingError(
            f"The data directory {path} does not exist. Point --data-dir or {DATA_DIR_ENV} at a folder "
            "holding MNIST/raw/, usps.bz2, usps.t.bz2 and BSDS500/images/train/, or unset it to download."
        )
    return path


def cache_dir() -> Path:
    """A writable folder for downloads and derived data (created on first use)."""
    path = Path(os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "da_demo").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_tensors(path: Path, build: Callable[[], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Tensors derived from the raw data, built by ``build`` the first time and read back from the
    safetensors file ``path`` (in the cache folder) ever after. The file is written whole or not at
    all, so an interrupted build is never read as a finished one."""
    if path.is_file():
        return load_file(path)
    tensors = {name: tensor.contiguous() for name, tensor in build().items()}
    try:
        with whole_file(path) as partial:
            save_file(tensors, partial)
    except (OSError, SafetensorError) as error:
        raise DataMissingError(
            f"Could not write {path.name} into the cache folder {path.parent} (read-only or full? set "
            f"{CACHE_DIR_ENV} to another folder): {error}"
        ) from None
    return tensors


LAYOUT_HELP = (
    "Expected layout of a data directory (as torchvision lays it out):\n"
    "  <dir>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]\n"
    "  <dir>/usps.bz2, <dir>/usps.t.bz2\n"
    "  <dir>/BSDS500/images/train/*.jpg   (the 200 BSDS500 training photos, for MNIST-M)\n"
    f"Pass it with --data-dir or {DATA_DIR_ENV}; without one, the data is downloaded into "
    f"the cache ({CACHE_DIR_ENV}, default ~/.cache/da_demo)."
)


@contextmanager
def whole_file(path: Path) -> Iterator[Path]:
    """A file name to write ``path``'s content to, renamed over ``path`` once the block ends.

    A reader sees the old file or the whole new one, never a half-written one; a failed write
    leaves nothing behind. Each call gets its own name, so writers of the same file at once (worker
    processes or threads building the same cache, two pretraining lanes) never rename each other's
    half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.", suffix=".partial")
    os.close(handle)
    partial = Path(name)
    try:
        yield partial
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
