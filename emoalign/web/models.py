"""Which encoder + adapter serve, loaded once and shared: `Models` (a bounded cache of
`EmotionPipeline`s keyed by the adapter's content) and `AnalysisCache` (song analyses by
model, file content and trim). No UI here: the app, a CLI or a batch job can use them alike.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..answer.adapter import ADAPTER_DIR, available_adapters
from ..answer.pipeline import EmotionPipeline, SongAnalysis
from ..audio.encoders import DEFAULT_ENCODER, available_encoders, load_encoder
from ..audio.load import MAX_SECONDS
from ..cache import BoundedCache
from ..digest import file_digest
from ..safety import clean_name, escape_markdown

log = logging.getLogger(__name__)

MODEL_CACHE_SIZE = 3  # pipelines kept in memory (encoder + adapter + text model each)
ANALYSIS_CACHE_SIZE = 256  # analyses kept (bundled examples are analysed once for all)


@dataclasses.dataclass(frozen=True)
class ModelChoice:
    """An encoder and an adapter (None: the encoder's shipped default)."""
    encoder: str = os.environ.get("EMOALIGN_ENCODER") or DEFAULT_ENCODER
    adapter: str | None = os.environ.get("EMOALIGN_ADAPTER") or None

    @property
    def adapter_name(self) -> str:
        return Path(self.adapter).stem if self.adapter else f"{self.encoder}-default"

    def describe(self) -> str:
        return (f"encoder **{escape_markdown(self.encoder)}**, "
                f"adapter **{escape_markdown(self.adapter_name)}**")


class Models:
    """`EmotionPipeline`s keyed by (encoder, SHA-256 of the adapter's weights and card), so every
    spelling of one adapter shares one pipeline; at most `size` are kept (least recently used
    dropped). Built on first use under a lock."""

    def __init__(self, size: int = MODEL_CACHE_SIZE, max_seconds: float = MAX_SECONDS) -> None:
        self._lock = threading.Lock()
        self.max_seconds = max_seconds
        self._encoders: dict[str, object] = {}
        self._pipelines: BoundedCache[tuple, EmotionPipeline] = BoundedCache(size)
        self._digests: BoundedCache[tuple, str] = BoundedCache(256)

    def key(self, choice: ModelChoice) -> tuple[str, str]:
        """(encoder, SHA-256s of the adapter's weights and card): the model's identity.
        ValueError for an encoder that is not one of `available_encoders()` (its name is never
        made into a path)."""
        if choice.encoder not in available_encoders():
            raise ValueError(f"Unknown encoder; available: {', '.join(available_encoders())}.")
        if choice.adapter is None:
            path = ADAPTER_DIR / f"{choice.encoder}-default.safetensors"
        elif choice.adapter in available_adapters():
            path = ADAPTER_DIR / f"{choice.adapter}.safetensors"
        else:
            path = Path(choice.adapter).with_suffix(".safetensors")
        digests = []
        for file in (path, path.with_suffix(".json")):  # the weights and the card they need
            try:
                stat = file.resolve().stat()
            except OSError:  # loading will say what is missing
                return choice.encoder, f"missing:{choice.adapter}"
            signature = (str(file.resolve()), stat.st_size, stat.st_mtime_ns)
            digest = self._digests.get(signature)
            if digest is None:
                digest = file_digest(file)
                self._digests.put(signature, digest)
            digests.append(digest)
        return choice.encoder, "+".join(digests)

    def loaded(self, choice: ModelChoice) -> bool:
        return self.key(choice) in self._pipelines

    def get(self, choice: ModelChoice, progress: Callable | None = None) -> EmotionPipeline:
        key = self.key(choice)
        with self._lock:
            pipe = self._pipelines.get(key)
            if pipe is None:
                if progress is not None:
                    progress(0.0, desc=f"Loading {choice.encoder} (first use, a few seconds)")
                start = time.perf_counter()
                pipe = EmotionPipeline(self._encoder(choice.encoder), adapter=choice.adapter,
                                       max_seconds=self.max_seconds)
                self._pipelines.put(key, pipe)
                log.info("loaded %s in %.1f s", choice, time.perf_counter() - start)
            return pipe

    def warm(self, choice: ModelChoice, words: list[str]) -> None:
        """Load `choice` and embed `words` once, so that the first visitor waits for neither."""
        pipe = self.get(choice)
        pipe.text.embed(words)
        pipe.builtin_clusters  # noqa: B018 - the word explanations need them

    def encoder(self, name: str):
        """The encoder alone (feature extraction for training needs no adapter)."""
        with self._lock:
            return self._encoder(name)

    def _encoder(self, name: str):
        if name not in self._encoders:
            self._encoders[name] = load_encoder(name)
        return self._encoders[name]


class AnalysisCache:
    """Analyses by (model, file content, trim), least recently used dropped beyond `size`.

    `shared=False` (public mode) keeps each visitor's analyses to that visitor (`owner`):
    otherwise a quick answer would tell a visitor that someone else analysed the same file.
    What `put` stores (the bundled examples' precomputed analyses) is everyone's."""

    def __init__(self, models: Models, size: int = ANALYSIS_CACHE_SIZE,
                 shared: bool = True) -> None:
        self.models = models
        self.shared = shared
        self._items: BoundedCache[tuple, SongAnalysis] = BoundedCache(size)

    def put(self, model_key: tuple, digest: str, trim: bool, song: SongAnalysis) -> None:
        """Store an analysis made elsewhere (the bundled examples' precomputed ones), for all."""
        self._items.put((model_key, digest, trim), song)

    def analyse(self, choice: ModelChoice, path: str | Path, name: str, trim: bool = False,
                progress: Callable | None = None, digest: str | None = None,
                owner: str | None = None) -> tuple[SongAnalysis, str]:
        """The song at `path` analysed under `choice` (from the cache when seen: by anyone
        when shared, else by `owner` or precomputed), named `name` (control and bidirectional
        characters dropped), and its content digest."""
        digest, name = digest or file_digest(path), clean_name(name)
        common = (self.models.key(choice), digest, trim)
        key = common if self.shared else (*common, owner)
        song = self._items.get(common) or self._items.get(key)
        if song is None:
            song = self.models.get(choice, progress).analyze(path, name=name, progress=progress,
                                                             trim=trim)
            self._items.put(key, song)
        return dataclasses.replace(song, name=name), digest
