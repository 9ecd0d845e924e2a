"""Test images and BSDS500 photos for the app, loaded on first use and shared read-only.

Nothing here downloads at import or page build; the app's warm-up (``ui._warm_up``) loads
everything in a background thread after launch, so pages that need data are usually ready when a
visitor asks.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from ..data import DataMissingError
from ..data.mnistm import bsds_photo_paths, load_photos
from ..data.pairs import DomainPair, load_pair

PHOTOS_FOR_RENDERING = 12
LOG = logging.getLogger("da_demo.data")


class AppData:
    """Lazily loaded domain pairs (test sets only are used by the pages) and a few photos."""

    def __init__(self, data_dir: str | None = None) -> None:
        self.data_dir = data_dir
        self._lock = threading.Lock()
        self._pairs: dict[str, DomainPair] = {}
        self._photos: list[np.ndarray] | None = None
        self.errors: dict[str, str] = {}

    def pair(self, name: str) -> DomainPair | None:
        """The pair, or None (with ``errors[name]`` saying why) when its data cannot be had."""
        with self._lock:
            if name not in self._pairs and name not in self.errors:
                try:
                    self._pairs[name] = load_pair(name, self.data_dir)
                except (DataMissingError, OSError, RuntimeError) as error:
                    self.errors[name] = str(error).splitlines()[0]
                    LOG.warning("%s data not available (%s); set DA_DEMO_DATA_DIR", name, self.errors[name])
            return self._pairs.get(name)

    def photos(self) -> list[np.ndarray]:
        """A few BSDS500 photos for rendering a digit MNIST-M style ([] when unavailable)."""
        with self._lock:
            if self._photos is None:
                try:
                    self._photos = load_photos(bsds_photo_paths(self.data_dir)[:PHOTOS_FOR_RENDERING])
                except (DataMissingError, OSError) as error:
                    self.errors["photos"] = str(error).splitlines()[0]
                    self._photos = []
            return self._photos
