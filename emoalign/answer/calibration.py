"""Calibrated scores: a song's cosine with a word, read against a corpus of real songs.

A raw cosine says little on its own: some words sit near every song (0.3 may be low for
"calm") and others near none (0.1 may be high for "furious"). The calibrated score of a word
is the share of the reference songs whose cosine with that word is lower than this song's:
0.84 reads "stronger than 84% of the reference songs". That removes each word's prior and
makes scores comparable across words. Valence and arousal are read the same way and mapped to
[-1, 1], so 0 is the middle of the reference corpus.

The reference corpus is every clip of the datasets in ../shared/data, stored as encoder
features (so any adapter for the same encoder can re-embed it) plus the song embeddings under
the adapter it was built with, tied to that adapter by its SHA-256
(`assets/reference/<encoder>.safetensors`, built from the datasets by learn/corpus.py and
`python -m train.reference`). Each
dataset weighs the same, so the 900 4Q clips do not drown the 178 MemoMusic pieces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..paths import ASSETS

REFERENCE_DIR = ASSETS / "reference"
MAX_REFERENCE_BYTES = 64 * 2**20  # a reference file larger than this is refused unread


@dataclass
class ReferenceCorpus:
    """Songs of the reference corpus; song i owns rows offsets[i]:offsets[i+1] of the
    per-segment arrays."""
    ids: np.ndarray  # (N,) str, "<dataset>/<track id>"
    datasets: np.ndarray  # (N,) str
    offsets: np.ndarray  # (N + 1,) int64
    features: np.ndarray  # (segments, D) float32 encoder features
    tonal: np.ndarray  # (segments, T) float32 tonal features (T may be 0)
    encoder: str
    song_embeddings: np.ndarray | None = None  # (N, 384) under `adapter_sha256`
    adapter_sha256: str = ""
    valence: np.ndarray | None = None  # (N,) known labels in [-1, 1], NaN where unknown
    arousal: np.ndarray | None = None
    quadrant: np.ndarray | None = None  # (N,) 1..4, 0 where unknown

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def weights(self) -> np.ndarray:
        """(N,) sums to 1, each dataset the same share."""
        return equal_shares(self.datasets)

    def select(self, songs: np.ndarray) -> "ReferenceCorpus":
        """The corpus of the songs where `songs` (N,) bool is true (e.g. one fold's training
        songs)."""
        songs = np.asarray(songs, bool)
        rows = np.repeat(songs, np.diff(self.offsets))
        counts = np.diff(self.offsets)[songs]
        pick = lambda a: None if a is None else a[songs]  # noqa: E731
        return ReferenceCorpus(self.ids[songs], self.datasets[songs],
                               np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                               self.features[rows], self.tonal[rows], self.encoder,
                               pick(self.song_embeddings), self.adapter_sha256, pick(self.valence),
                               pick(self.arousal), pick(self.quadrant))

    def song_features(self) -> list[np.ndarray]:
        return [self.features[a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:])]


def equal_shares(groups: np.ndarray) -> np.ndarray:
    """(N,) weights summing to 1 that give every distinct value of `groups` the same share."""
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inverse]
    return w / w.sum()


class Calibrator:
    """Turns raw values into percentiles of a weighted reference sample, per column."""

    def __init__(self, reference: np.ndarray, weights: np.ndarray | None = None):
        reference = np.asarray(reference, np.float64)
        if reference.ndim == 1:
            reference = reference[:, None]
        n = len(reference)
        weights = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, np.float64)
        self.order = np.argsort(reference, axis=0, kind="stable")
        self.sorted = np.take_along_axis(reference, self.order, axis=0)  # (N, W)
        self.cumulative = np.cumsum(weights[self.order], axis=0)  # (N, W), last row = 1
        self.cumulative /= self.cumulative[-1]

    def percentile(self, values: np.ndarray) -> np.ndarray:
        """(..., W) raw values -> (..., W) in [0, 1]: the weighted share of reference values
        below each value (half of any exact ties)."""
        values = np.asarray(values, np.float64)
        flat = values.reshape(-1, values.shape[-1])
        out = np.empty_like(flat)
        padded = np.vstack([np.zeros((1, self.sorted.shape[1])), self.cumulative])
        for w in range(flat.shape[1]):
            lo = np.searchsorted(self.sorted[:, w], flat[:, w], side="left")
            hi = np.searchsorted(self.sorted[:, w], flat[:, w], side="right")
            out[:, w] = (padded[lo, w] + padded[hi, w]) / 2
        return out.reshape(values.shape)

    def signed(self, values: np.ndarray) -> np.ndarray:
        """Percentiles mapped to [-1, 1]: 0 is the reference's weighted median."""
        return 2.0 * self.percentile(values) - 1.0


def word_cosines(vectors: np.ndarray, word_embeddings: np.ndarray) -> np.ndarray:
    """(..., 384) unit vectors and (W, 384) unit word vectors -> (..., W) cosines in float64,
    each word's column computed alone: a word's cosines (and so its calibrated score) never
    depend on which other words are scored with it or in what order (one matrix product
    sums in an order that depends on the matrix's shape)."""
    vectors = np.asarray(vectors, np.float64)
    words = np.asarray(word_embeddings, np.float64)
    return np.stack([vectors @ w for w in words], axis=-1) if len(words) else \
        np.zeros((*vectors.shape[:-1], 0))


def word_calibrator(song_embeddings: np.ndarray, weights: np.ndarray,
                    word_embeddings: np.ndarray) -> Calibrator:
    """Calibrator over the reference songs' cosines with each word: (N, 384) reference song
    embeddings (under the adapter in use), (N,) their weights, (W, 384) unit word vectors."""
    return Calibrator(word_cosines(song_embeddings, word_embeddings), weights)


def meaning(score: float) -> str:
    """One plain sentence for a calibrated word score."""
    return f"stronger than {round(100 * score)}% of the reference songs"


def reference_path(encoder: str, directory: str | Path = REFERENCE_DIR) -> Path:
    return Path(directory) / f"{encoder}.safetensors"


def save_reference(reference: ReferenceCorpus, path: str | Path,
                   extra: dict[str, np.ndarray] | None = None, meta: dict | None = None) -> Path:
    """Write the corpus (features as float16 to stay small) plus `extra` tensors."""
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {"offsets": reference.offsets.astype(np.int64),
               "features": reference.features.astype(np.float16),
               "tonal": reference.tonal.astype(np.float16)}
    for name in ("song_embeddings", "valence", "arousal"):
        if getattr(reference, name) is not None:
            tensors[name] = getattr(reference, name).astype(np.float32)
    if reference.quadrant is not None:
        tensors["quadrant"] = reference.quadrant.astype(np.int8)
    tensors.update(extra or {})
    reserved = {"encoder", "adapter_sha256", "ids", "datasets"} & set(meta or {})
    if reserved:
        raise ValueError(f"meta must not hold the corpus's own keys: {', '.join(sorted(reserved))}")
    metadata = {"encoder": reference.encoder, "adapter_sha256": reference.adapter_sha256,
                "ids": json.dumps(reference.ids.tolist()),
                "datasets": json.dumps(reference.datasets.tolist()),
                **{k: json.dumps(v) for k, v in (meta or {}).items()}}
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp), metadata)
    tmp.replace(path)
    return path


def load_reference(path: str | Path) -> tuple[ReferenceCorpus, dict[str, np.ndarray], dict]:
    """The corpus, the extra tensors saved with it, and its JSON metadata."""
    from safetensors import safe_open

    path = Path(path)
    if path.stat().st_size > MAX_REFERENCE_BYTES:
        raise ValueError(f"reference corpus {path.name} is larger than "
                         f"{MAX_REFERENCE_BYTES >> 20} MiB; refusing to load it")
    with safe_open(str(path), framework="numpy") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        metadata = dict(f.metadata() or {})
    ids = np.array(json.loads(metadata.pop("ids")), dtype=str)
    datasets = np.array(json.loads(metadata.pop("datasets")), dtype=str)
    offsets = tensors.pop("offsets")
    if len(offsets) != len(ids) + 1 or len(datasets) != len(ids):
        raise ValueError(f"reference corpus {path.name} is inconsistent")
    take = lambda k: tensors.pop(k, None)  # noqa: E731
    quadrant = take("quadrant")
    reference = ReferenceCorpus(
        ids, datasets, offsets, take("features").astype(np.float32),
        take("tonal").astype(np.float32), metadata.pop("encoder"), take("song_embeddings"),
        metadata.pop("adapter_sha256", ""), take("valence"), take("arousal"),
        None if quadrant is None else quadrant.astype(int))
    meta = {k: json.loads(v) for k, v in metadata.items()}
    return reference, tensors, meta


# ---------------------------------------------------------------------------------------------
# Building a corpus from the labelled datasets' feature caches (train/reference.py, benchmarks)


def embed_corpus(adapter, corpus: ReferenceCorpus, adapter_sha256: str = "") -> ReferenceCorpus:
    """Fill in the song embeddings (normalised segment means) under `adapter`."""
    from .adapter import embed_songs  # torch: only when re-embedding

    embedded = embed_songs(adapter, corpus.song_features())
    means = np.stack([e.mean(axis=0) for e in embedded])
    corpus.song_embeddings = (means / np.linalg.norm(means, axis=1, keepdims=True)).astype(np.float32)
    corpus.adapter_sha256 = adapter_sha256
    return corpus


def song_means(corpus: ReferenceCorpus, per_segment: np.ndarray) -> np.ndarray:
    """(segments, ...) values -> (N, ...) per-song means."""
    sums = np.add.reduceat(per_segment, corpus.offsets[:-1], axis=0)
    return sums / np.diff(corpus.offsets).reshape(-1, *([1] * (per_segment.ndim - 1)))


