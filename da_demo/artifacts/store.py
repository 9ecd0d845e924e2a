"""Where trained models come from, and which source was used.

With ``DA_DEMO_HUB_REPO`` set, checkpoints come from that Hub repo (cached by huggingface_hub). A Hub
file is used only when its SHA-256 matches a trusted manifest: the Hub repo's own manifest **at the
commit pinned by** ``DA_DEMO_HUB_REVISION`` (a manifest fetched from a moving branch comes from the
same place as the file and proves nothing), or the manifest shipped with the app. Anything else (no
pinned revision and no shipped entry, a mismatch, offline and not cached, a malformed file) falls
back to the shipped file in ``checkpoints/``, and ``notes`` say why.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .checkpoints import Checkpoint, CheckpointError, load_checkpoint
from .hub import HUB_REVISION_ENV, HubUnavailable, configured_repo, configured_revision, fetch
from .manifest import MANIFEST_NAME, read_manifest
from .schemas import ManifestEntry, RecordsError

SHIPPED_DIRECTORY = Path(__file__).resolve().parents[2] / "checkpoints"


def checkpoint_file(pair: str, method: str) -> str:
    """A checkpoint's path relative to the checkpoints folder (and in the Hub repo)."""
    return f"{pair}/{method}.safetensors"


def start_model_file(pair: str, method: str, backbone: str) -> str:
    """Where a shipped **start model** lies: the ``method`` model on ``backbone`` that shipped models
    on a variant of the pair's backbone (a bounded embedding, a standardised input) started from, so a visitor's
    run of those settings starts from it too (``ModelStore.load_start``)."""
    return f"{pair}/start/{method}-{backbone}.safetensors"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unchanged_file(directory: Path, entry: ManifestEntry) -> Path | None:
    """``entry``'s file in ``directory`` if it is still the file the manifest measured (same SHA-256)."""
    path = Path(directory) / entry.file
    return path if path.is_file() and sha256(path) == entry.sha256 else None


@dataclass
class Loaded:
    checkpoint: Checkpoint
    #: where it came from, in words, e.g. "Hub repo user/x (cached)" or "shipped checkpoints/"
    origin: str


class ModelStore:
    """Finds the trained model of a (pair, method): Hub repo first when configured, else shipped files."""

    def __init__(
        self,
        hub_repo: str | None = None,
        directory: Path = SHIPPED_DIRECTORY,
        use_hub: bool = True,
        revision: str | None = None,
    ) -> None:
        self.hub_repo = (hub_repo or configured_repo()) if use_hub else None
        self.directory = Path(directory)
        self.notes: list[str] = []  # what fell back and why, for the CLI and the app to show
        self._hub_manifest: list[ManifestEntry] | None = None
        self.revision = None
        if self.hub_repo:
            try:
                self.revision = revision or configured_revision()
            except HubUnavailable as error:
                self.notes.append(f"Hub repo not used ({error})")
                self.hub_repo = None

    def manifest(self) -> list[ManifestEntry]:
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

    def load_start(self, pair: str, method: str, backbone: str) -> Loaded | None:
        """The shipped start model of ``method`` on ``backbone`` (``start_model_file``), or None: from
        the Hub repo when configured and a trusted manifest entry names it with its SHA-256, else the
        file shipped with the app."""
        name = start_model_file(pair, method, backbone)
        if self.hub_repo and self.trusted_sha256(name) is not None:
            try:
                checkpoint = self._load_from_hub(name, pair, method)
                if checkpoint.metadata.backbone == backbone:
                    return Loaded(checkpoint, f"Hub repo {self.hub_repo}")
            except (HubUnavailable, CheckpointError) as error:
                self.notes.append(f"Hub copy not used ({error}); using the shipped file instead")
        path = self.directory / name
        if not path.is_file():
            return None
        checkpoint = load_checkpoint(path, expect_pair=pair, expect_method=method)
        origin = f"shipped {self.directory.name}/{name}"
        return Loaded(checkpoint, origin) if checkpoint.metadata.backbone == backbone else None

    def available(self, pair: str, method: str) -> bool:
        return (self.directory / checkpoint_file(pair, method)).is_file() or any(
            entry.pair == pair and entry.method == method for entry in (self._hub_entries() or [])
        )

    def _hub_entries(self) -> list[ManifestEntry] | None:
        if not self.hub_repo:
            return None
        if self._hub_manifest is None:
            if self.revision is None:
                self.notes.append(
                    f"the Hub manifest is not trusted: set {HUB_REVISION_ENV} to the commit to use"
                )
                self._hub_manifest = []
            else:
                try:
                    self._hub_manifest = read_manifest(
                        fetch(self.hub_repo, MANIFEST_NAME, self.revision).parent
                    )
                except (HubUnavailable, RecordsError) as error:
                    self.notes.append(f"Hub manifest not used ({error})")
                    self._hub_manifest = []
        return self._hub_manifest or None

    def trusted_sha256(self, name: str) -> str | None:
        """The SHA-256 a file must have: from the pinned Hub manifest, else from the shipped one."""
        for entries in (self._hub_entries() or [], read_manifest(self.directory)):
            files = [(entry.file, entry.sha256) for entry in entries]
            files += [(e.start_model.file, e.start_model.sha256) for e in entries if e.start_model is not None]
            found = next((digest for file, digest in files if file == name), None)
            if found is not None:
                return found
        return None

    def entry(self, pair: str, method: str) -> ManifestEntry | None:
        """The manifest's entry of a shipped model: what was measured from that very file."""
        return next((e for e in self.manifest() if (e.pair, e.method) == (pair, method)), None)

    def _load_from_hub(self, name: str, pair: str, method: str) -> Checkpoint:
        expected = self.trusted_sha256(name)
        if expected is None:
            raise CheckpointError(f"{name}: no trusted manifest lists it (pin {HUB_REVISION_ENV})")
        path = fetch(self.hub_repo, name, self.revision)
        if sha256(path) != expected:
            raise CheckpointError(
                f"{name} from the Hub does not match the trusted SHA-256 (corrupt or altered)"
            )
        return load_checkpoint(path, expect_pair=pair, expect_method=method)
