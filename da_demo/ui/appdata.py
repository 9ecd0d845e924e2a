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
        self._lock = threading.Lock()  # guards the dictionaries below, never held while loading
        self._loading: dict[str, threading.Lock] = {}  # one per pair: a pair loads once
        self._pairs: dict[str, DomainPair] = {}
        self._photos: list[np.ndarray] | None = None
        self.errors: dict[str, str] = {}

    def pair(self, name: str) -> DomainPair | None:
        """The pair, or None (with ``errors[name]`` saying why) when its data cannot be had. A pair
        still loading keeps only those who need it waiting: a loaded one is answered at once."""
        with self._lock:
            if name in self._pairs or name in self.errors:
                return self._pairs.get(name)
            loading = self._loading.setdefault(name, threading.Lock())
        with loading:
            with self._lock:
                if name in self._pairs or name in self.errors:  # loaded while this one waited
                    return self._pairs.get(name)
            try:
                loaded = load_pair(name, self.data_dir)
            except (DataMissingError, OSError, RuntimeError) as error:
                with self._lock:
                    self.errors[name] = str(error).splitlines()[0]
                LOG.warning("%s data not available (%s); set DA_DEMO_DATA_DIR", name, self.errors[name])
                return None
            with self._lock:
                self._pairs[name] = loaded
            return loaded

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
