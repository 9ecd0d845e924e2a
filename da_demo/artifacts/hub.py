"""Hugging Face Hub: push the shipped checkpoints, and fetch them back (cached) by file name.

Loading is configured by ``DA_DEMO_HUB_REPO`` (a model repo id such as ``user/da-demo-checkpoints``)
and ``DA_DEMO_HUB_REVISION`` (the commit to trust). Downloads land in huggingface_hub's cache, so a
later offline start (``HF_HUB_OFFLINE=1``) reuses them.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, HFValidationError, OfflineModeIsEnabled

from .manifest import MANIFEST_NAME, read_manifest, results_table

HUB_REPO_ENV = "DA_DEMO_HUB_REPO"
HUB_REVISION_ENV = "DA_DEMO_HUB_REVISION"
#: what can go wrong when fetching: offline without a cached copy, no such repo/file, network trouble
HUB_ERRORS = (
    EntryNotFoundError,
    HfHubHTTPError,
    HFValidationError,
    OfflineModeIsEnabled,
    OSError,
    ValueError,
)


class HubUnavailable(RuntimeError):
    """The Hub copy of a file could not be had (offline and not cached, missing, or network error)."""


def configured_repo() -> str | None:
    return os.environ.get(HUB_REPO_ENV) or None


def configured_revision() -> str | None:
    """The commit of the Hub repo to trust (``DA_DEMO_HUB_REVISION``, 40 hex digits), or None."""
    value = os.environ.get(HUB_REVISION_ENV) or None
    if value is not None and not re.fullmatch(r"[0-9a-f]{40}", value):
        raise HubUnavailable(
            f"{HUB_REVISION_ENV} must be a full 40-character commit hash, got {value[:60]!r}"
        )
    return value


def fetch(repo_id: str, filename: str, revision: str | None = None) -> Path:
    """The local path of ``filename`` from the Hub repo (at ``revision``): downloaded, or the cached
    copy when offline. Downloads go to huggingface_hub's cache, which writes them atomically."""
    try:
        return Path(hf_hub_download(repo_id, filename, repo_type="model", revision=revision))
    except HUB_ERRORS as error:
        raise HubUnavailable(
            f"{filename} from Hub repo {repo_id}: {type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else ''}"
        ) from error


def model_card(entries: list[dict], repo_id: str) -> str:
    """The Hub repo's README: what the files are, how to load them, and the measured results."""
    return f"""---
library_name: safetensors
tags: [domain-adaptation, mnist, usps, mnist-m, pytorch]
license: mit
---
# Domain Adaptation Playground: pretrained checkpoints

Checkpoints of the [Domain Adaptation Playground](https://github.com/) for every method and digit
domain pair. Each `<pair>/<method>.safetensors` holds the weights and, in its header, JSON metadata
(method, pair, backbone, hyperparameters, seed, code version, data fingerprint, measured metrics).
`{MANIFEST_NAME}` lists them all. Load them with the project: `DA_DEMO_HUB_REPO={repo_id} python app.py`.

Trained on MNIST (LeCun et al.), USPS (Hull 1994) and MNIST-M built from BSDS500 (non-commercial
research and education). Target labels were never used for training.

## Results (target-test accuracy)

{results_table(entries)}
"""


def push(repo_id: str, directory: Path, *, token: str | None = None, private: bool = False) -> str:
    """Upload the checkpoints, the manifest and a generated model card to ``repo_id``; returns its URL."""
    entries = read_manifest(directory)
    if not entries:
        raise ValueError(
            f"{directory / MANIFEST_NAME} is missing or empty: run `python -m da_demo pretrain` first"
        )
    api = HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as staging:
        card = Path(staging) / "README.md"
        card.write_text(model_card(entries, repo_id))
        api.upload_file(
            path_or_fileobj=str(card), path_in_repo="README.md", repo_id=repo_id, repo_type="model"
        )
    api.upload_folder(
        repo_id=repo_id,
        folder_path=str(directory),
        repo_type="model",
        allow_patterns=["*.safetensors", "*/*.safetensors", MANIFEST_NAME],
        commit_message="Upload checkpoints and manifest",
    )
    return f"https://huggingface.co/{repo_id}"
