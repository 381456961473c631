"""Where things live on disk: the repository, its assets, the datasets and the feature cache."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ASSETS = REPO_ROOT / "assets"  # label sets, encoders, adapters, the reference corpus, examples


def data_root() -> Path:
    """The shared data directory: $EMOALIGN_DATA, else ../shared/data beside the repository."""
    return Path(os.environ.get("EMOALIGN_DATA", REPO_ROOT.parent / "shared" / "data"))


def features_root() -> Path:
    """The feature cache: $EMOALIGN_FEATURES, else features/ in the repository (git-ignored)."""
    return Path(os.environ.get("EMOALIGN_FEATURES", REPO_ROOT / "features"))
