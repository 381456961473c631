"""The reference corpus as the pipeline serves it: read once per process, embedded under any
adapter of its encoder (cached by the adapter's SHA-256)."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..cache import BoundedCache
from .calibration import (Calibrator, ReferenceCorpus, embed_corpus, load_reference,
                          reference_path)
from .confidence import DEFAULT_NEUTRAL_RADIUS, MusicCheck
from .valence_arousal import VAHead

EMBEDDED_CACHE = 4  # corpora re-embedded under adapters other than the stored one, per process
UNCALIBRATED = "Scores are raw cosines and valence/arousal is uncalibrated: "


@dataclasses.dataclass(frozen=True)
class Reference:
    """A loaded reference corpus and what calibration reads from it."""
    path: str
    mtime_ns: int
    corpus: ReferenceCorpus
    weights: np.ndarray  # (N,) each dataset the same share
    head: VAHead | None  # the valence/arousal head stored with it
    head_calibrator: Calibrator | None  # over the reference songs' raw head outputs (song means)
    meta: dict
    music_check: MusicCheck | None = None  # tells music from tones, noise, speech (confidence.py)
    neutral_radius: float = DEFAULT_NEUTRAL_RADIUS  # readings nearer the centre name no quadrant


_EMBEDDED = BoundedCache(EMBEDDED_CACHE)  # (path, mtime, adapter SHA-256) -> (N, 384)


@lru_cache(maxsize=2)
def load_reference_once(path: str, mtime_ns: int) -> Reference:
    """A reference file, read once per process (keyed by path and modification time)."""
    corpus, extra, meta = load_reference(path)
    weights = corpus.weights
    head, calibrator = None, None
    if "va_weight" in extra:
        head = VAHead.from_tensors(extra, meta.get("head_mode") or "fused")
        calibrator = Calibrator(head.song_values(corpus.features, corpus.tonal, corpus.offsets),
                                weights)
    return Reference(path, mtime_ns, corpus, weights, head, calibrator, meta,
                     MusicCheck.from_tensors(extra),
                     float(meta.get("neutral_radius") or DEFAULT_NEUTRAL_RADIUS))


def open_reference(encoder: str, feature_dim: int, path: str | Path | bool | None = None
                   ) -> tuple[Reference | None, str | None]:
    """The reference for `encoder` (default: the shipped asset; False: none), or None and a
    notice that says why scores stay raw."""
    path = reference_path(encoder) if path is None else path
    if path is False or not Path(path).is_file():
        return None, (f"{UNCALIBRATED}there is no reference corpus for the {encoder} encoder "
                      f"(python -m train.reference builds one).")
    try:
        reference = load_reference_once(str(path), Path(path).stat().st_mtime_ns)
    except (OSError, ValueError, KeyError) as error:
        return None, f"{UNCALIBRATED}the reference corpus could not be read ({error})."
    corpus = reference.corpus
    if corpus.encoder != encoder or corpus.features.shape[1] != feature_dim:
        return None, (f"{UNCALIBRATED}the reference corpus {Path(path).name} holds "
                      f"{corpus.features.shape[1]}-d {corpus.encoder} features, not "
                      f"{feature_dim}-d {encoder} ones.")
    return reference, None


def embeddings_under(reference: Reference, adapter, sha256: str) -> np.ndarray:
    """(N, 384) reference song embeddings under `adapter`: the stored ones when its SHA-256
    is the one the corpus was built with, else its features re-embedded (cached)."""
    corpus = reference.corpus
    if corpus.adapter_sha256 == sha256 and corpus.song_embeddings is not None:
        return corpus.song_embeddings
    return _EMBEDDED.get_or_create((reference.path, reference.mtime_ns, sha256), lambda: embed_corpus(
        adapter, dataclasses.replace(corpus), sha256).song_embeddings)


def neutral_radius(encoder: str) -> float:
    """The neutral band of the shipped reference of `encoder` (confidence.py), or the default."""
    path = reference_path(encoder)
    try:
        return load_reference_once(str(path), path.stat().st_mtime_ns).neutral_radius
    except (OSError, ValueError, KeyError):
        return DEFAULT_NEUTRAL_RADIUS


def reference_valence_arousal(reference: Reference) -> np.ndarray:
    """(N, 2) the reference songs' own readings in [-1, 1] (the stored head, read against the
    corpus), NaN when the reference has no head."""
    corpus = reference.corpus
    if reference.head is None:
        return np.full((len(corpus), 2), np.nan)
    raw = reference.head.song_values(corpus.features, corpus.tonal, corpus.offsets)
    return reference.head_calibrator.signed(raw)
