"""Where trained models come from, and which source was used.

With ``DA_DEMO_HUB_REPO`` set, checkpoints come from that Hub repo (cached by huggingface_hub);
each file is checked against the Hub manifest's SHA-256. When the Hub copy cannot be had (offline
and not cached, missing, corrupt), the shipped file in ``checkpoints/`` is used instead, and
``origin`` says so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .checkpoints import Checkpoint, CheckpointError, load_checkpoint
from .hub import HubUnavailable, configured_repo, fetch
from .manifest import MANIFEST_NAME, read_manifest

SHIPPED_DIRECTORY = Path(__file__).resolve().parents[2] / "checkpoints"


def checkpoint_file(pair: str, method: str) -> str:
    """A checkpoint's path relative to the checkpoints folder (and in the Hub repo)."""
    return f"{pair}/{method}.safetensors"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Loaded:
    checkpoint: Checkpoint
    #: where it came from, in words, e.g. "Hub repo user/x (cached)" or "shipped checkpoints/"
    origin: str


class ModelStore:
    """Finds the trained model of a (pair, method): Hub repo first when configured, else shipped files."""

    def __init__(
        self, hub_repo: str | None = None, directory: Path = SHIPPED_DIRECTORY, use_hub: bool = True
    ) -> None:
        self.hub_repo = (hub_repo or configured_repo()) if use_hub else None
        self.directory = Path(directory)
        self.notes: list[str] = []  # what fell back and why, for the CLI and the app to show
        self._hub_manifest: list[dict] | None = None

    def manifest(self) -> list[dict]:
        """The Hub manifest when configured and reachable, else the shipped one."""
        hub = self._hub_entries()
        return hub if hub is not None else read_manifest(self.directory)

    def manifest_origin(self) -> str:
        """Where ``manifest()`` comes from, in words."""
        return (
            f"Hub repo {self.hub_repo}"
            if self._hub_entries() is not None
            else f"shipped {self.directory.name}/manifest.json"
        )

    def load(self, pair: str, method: str) -> Loaded:
        """The checkpoint of ``method`` on ``pair``; raises ``CheckpointError`` when there is none anywhere."""
        name = checkpoint_file(pair, method)
        if self.hub_repo:
            try:
                return Loaded(self._load_from_hub(name, pair, method), f"Hub repo {self.hub_repo}")
            except (HubUnavailable, CheckpointError) as error:
                self.notes.append(f"Hub copy not used ({error}); using the shipped file instead")
        path = self.directory / name
        if not path.is_file():
            raise CheckpointError(
                f"No trained {method} model for {pair} (looked for {path}"
                f"{' and in Hub repo ' + self.hub_repo if self.hub_repo else ''})"
            )
        return Loaded(
            load_checkpoint(path, expect_pair=pair, expect_method=method), f"shipped {self.directory.name}/"
        )

    def available(self, pair: str, method: str) -> bool:
        return (self.directory / checkpoint_file(pair, method)).is_file() or any(
            entry["pair"] == pair and entry["method"] == method for entry in (self._hub_entries() or [])
        )

    def _hub_entries(self) -> list[dict] | None:
        if not self.hub_repo:
            return None
        if self._hub_manifest is None:
            try:
                self._hub_manifest = read_manifest(fetch(self.hub_repo, MANIFEST_NAME).parent)
            except (HubUnavailable, ValueError) as error:
                self.notes.append(f"Hub manifest not used ({error})")
                self._hub_manifest = []
        return self._hub_manifest or None

    def _load_from_hub(self, name: str, pair: str, method: str) -> Checkpoint:
        path = fetch(self.hub_repo, name)
        expected = next(
            (entry.get("sha256") for entry in self._hub_entries() or [] if entry.get("file") == name), None
        )
        if expected and sha256(path) != expected:
            raise CheckpointError(
                f"{name} from the Hub does not match the manifest's SHA-256 (corrupt download?)"
            )
        return load_checkpoint(path, expect_pair=pair, expect_method=method)
