"""The app's settings (from the environment) and the objects every session shares: the models,
the analysis cache, the training slot, the download folders and the bundled examples."""

from __future__ import annotations

import os
from pathlib import Path

from ..audio.load import MAX_SECONDS
from ..digest import file_digest
from ..paths import REPO_ROOT
from ..safety import owned_temp_dir, public_mode, sweep_temp_dirs
from ..text.labels import available_label_sets
from .examples import EXAMPLES_DIR, load_examples, precomputed
from .jobs import JobSlot, SessionFiles
from .models import AnalysisCache, ModelChoice, Models
from .session import LIBRARY_LIMIT as DEFAULT_LIBRARY_LIMIT

try:  # Hugging Face ZeroGPU Spaces; optional everywhere else
    import spaces
except ImportError:
    spaces = None

REPO = REPO_ROOT
TRAINED_DIR = Path(os.environ.get("EMOALIGN_TRAINED", REPO / "runs" / "app-adapters"))
SONG_SECONDS_CAP = float(os.environ.get("EMOALIGN_MAX_SECONDS", MAX_SECONDS))
PUBLIC = public_mode()  # SPACE_ID or EMOALIGN_PUBLIC=1: no server paths from visitors
LIBRARY_LIMIT = int(os.environ.get("EMOALIGN_LIBRARY_LIMIT", DEFAULT_LIBRARY_LIMIT))
MAX_UPLOAD_MB = int(os.environ.get("EMOALIGN_MAX_UPLOAD_MB", 200))  # per uploaded file
PRELOAD = os.environ.get("EMOALIGN_PRELOAD", "1") != "0"  # warm the default model at start
TRAINED_KEEP = 10  # adapters trained in the app kept in public mode (oldest deleted)
VOCABULARIES = available_label_sets() + ["all"]
DEFAULT_WORDS = "wistful, furious, serene, bittersweet, triumphant, homesick"

# Temp folders carry the process id: removed at exit, and swept at start once their process
# has ended (a killed server's too).
TRAIN_STAGING_PREFIX = "emoalign-train-"
sweep_temp_dirs(TRAIN_STAGING_PREFIX)
DOWNLOADS = SessionFiles(owned_temp_dir("emoalign-downloads-"))  # per session
UPLOADED_ADAPTERS = owned_temp_dir("emoalign-adapters-")  # by SHA-256
MODELS = Models(max_seconds=SONG_SECONDS_CAP)
ANALYSES = AnalysisCache(MODELS, shared=not PUBLIC)  # public: per visitor (no timing oracle)
TRAINING = JobSlot(max_seconds=float(os.environ.get("EMOALIGN_TRAIN_MAX_SECONDS", 0))
                   or (1800.0 if PUBLIC else None))
EXAMPLES = load_examples()
EXAMPLE_BY_DIGEST = {file_digest(e.path): e for e in EXAMPLES}  # recognised by content


def seed_examples(choice: ModelChoice = ModelChoice()) -> int:
    """Put the examples' precomputed analyses in the cache; returns how many were usable."""
    key = MODELS.key(choice)
    stored = precomputed(key, EXAMPLES_DIR)
    for digest, song in stored.items():
        if digest in EXAMPLE_BY_DIGEST:
            ANALYSES.put(key, digest, False, song)
    return len(stored)
