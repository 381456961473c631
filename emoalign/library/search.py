"""Songs in memory for search: an (N, 384) float32 matrix of unit song embeddings, ranked by
one matmul (brute force: at 100k songs it is faster than embedding the query words, see
bench/bench_library.py). Two sources fill it: the user's library (`Library.index()`) and the
shipped reference corpus (`reference_index()`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

EMBEDDING_DIM = 384


@dataclass
class SongIndex:
    """Song embeddings in memory for search: the user's library or the reference corpus."""
    source: str  # "library" or "reference"
    keys: list[str]  # what a user types to name a song: library path, or "emotify/123"
    embeddings: np.ndarray  # (N, 384) float32 unit norm
    info: list[dict] = field(default_factory=list)  # per song: what to show beside it

    def __len__(self) -> int:
        return len(self.keys)

    def search(self, query: np.ndarray, top: int = 10, exclude: int | None = None
               ) -> list[tuple[int, float]]:
        """(384,) or (W, 384) query vectors (their normalised mean) -> [(row, cosine)] best
        first; `exclude` drops one row (the song itself in `similar`)."""
        query = np.asarray(query, np.float32)
        if query.ndim == 2:
            query = query.mean(axis=0)
        query = query / max(float(np.linalg.norm(query)), 1e-12)
        cosines = self.embeddings @ query
        if exclude is not None:
            cosines[exclude] = -np.inf
        top = max(0, min(top, len(cosines) - (exclude is not None)))
        if top == 0:
            return []
        best = np.argpartition(-cosines, top - 1)[:top]
        best = best[np.argsort(-cosines[best], kind="stable")]
        return [(int(i), round(float(cosines[i]), 4)) for i in best]

    def find(self, key: str) -> int | None:
        """The row of a song named by its key (exact), else None."""
        try:
            return self.keys.index(key)
        except ValueError:
            return None



def reference_index(path: str | Path | None = None, encoder: str = "musicnn") -> SongIndex:
    """The shipped reference corpus (assets/reference/<encoder>.safetensors) as a library:
    ids like "emotify/123", song embeddings under the shipped adapter, and as info the dataset
    and its human labels where it has them (`known_valence`/`known_arousal` in [-1, 1];
    `known_quadrant` 1-4; 4Q's valence/arousal are its quadrant's signs, +-0.5)."""
    from ..answer.calibration import load_reference, reference_path
    corpus, _, _ = load_reference(path or reference_path(encoder))
    if corpus.song_embeddings is None:
        raise ValueError("The reference corpus holds no song embeddings.")
    nan = lambda a, i: None if a is None or not np.isfinite(a[i]) else round(float(a[i]), 3)  # noqa: E731
    info = [{"dataset": str(corpus.datasets[i]), "known_valence": nan(corpus.valence, i),
             "known_arousal": nan(corpus.arousal, i),
             "known_quadrant": int(corpus.quadrant[i]) if corpus.quadrant is not None
             and corpus.quadrant[i] else None} for i in range(len(corpus))]
    return SongIndex("reference", [str(i) for i in corpus.ids],
                     np.ascontiguousarray(corpus.song_embeddings, np.float32), info)
