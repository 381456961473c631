"""The one object the app, the CLI, the benchmarks and the tests call.

`EmotionPipeline.analyze` turns audio into segment and song embeddings in the 384-d label
space once; `score`, `explain`, `search` and `similar` then only embed words and multiply.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .adapter import Adapter, load_adapter
from .audio import (MAX_SECONDS, SEGMENT_SECONDS, AudioError, load_audio, prepare_audio,
                    silent_segments, split_segments)
from .clusters import PAPER_BANDWIDTH, PAPER_QUANTILE, LabelClusters, label_clusters
from .encoders import DEFAULT_ENCODER, Encoder, default_device, load_encoder
from .labels import MAX_WORDS, available_label_sets, load_label_set, parse_words
from .text import TextEncoder

FAMILIAR_SIMILARITY = 0.5  # a word this close (cosine) to a trained label is in known territory
Progress = Callable[..., None]  # progress(fraction, desc=...) like gr.Progress


@dataclass
class SongAnalysis:
    """A song mapped into the label space; everything scoring needs, no audio."""
    name: str
    duration_s: float
    segment_starts: np.ndarray  # (S,) seconds
    features: np.ndarray  # (S, feature_dim) encoder features (to re-embed with another adapter)
    segment_embeddings: np.ndarray  # (S, 384) unit norm
    silent: np.ndarray  # (S,) bool: silent segments, left out of song-level results
    tags: dict[str, float] = field(default_factory=dict)  # encoder tag -> mean probability
    notices: list[str] = field(default_factory=list)
    encoder: str = ""

    @property
    def n_segments(self) -> int:
        return len(self.segment_starts)

    @property
    def song_embedding(self) -> np.ndarray:
        """(384,) normalised mean of the non-silent segment embeddings."""
        mean = self.segment_embeddings[~self.silent].mean(axis=0)
        return mean / max(np.linalg.norm(mean), 1e-12)


@dataclass
class EmotionScores:
    words: list[str]
    segment_starts: np.ndarray  # (S,)
    segment_scores: np.ndarray  # (S, W) cosine
    song_scores: np.ndarray  # (W,) cosine with the song embedding
    vote_counts: np.ndarray  # (W,) segments that put the word in their top k
    top_k: int

    @property
    def top_by_mean(self) -> list[str]:
        return [self.words[i] for i in np.argsort(-self.song_scores)[: self.top_k]]

    @property
    def top_by_vote(self) -> list[str]:
        # votes first, mean score breaks ties
        order = np.lexsort((-self.song_scores, -self.vote_counts))
        return [self.words[i] for i in order[: self.top_k]]

    def table(self) -> list[dict]:
        """One row per word, best song score first."""
        rank = np.argsort(-self.song_scores)
        return [{"word": self.words[i], "score": round(float(self.song_scores[i]), 4),
                 "votes": int(self.vote_counts[i]), "rank": r + 1} for r, i in enumerate(rank)]

    def to_json(self) -> str:
        return json.dumps({
            "top_k": self.top_k, "top_by_mean": self.top_by_mean, "top_by_vote": self.top_by_vote,
            "song": self.table(),
            "segments": [{"start_s": float(s), **{w: round(float(v), 4) for w, v in zip(self.words, row)}}
                         for s, row in zip(self.segment_starts, self.segment_scores)],
        }, indent=1)

    def to_csv(self) -> str:
        """Rows: the song, then every segment; columns: the words."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["level", "start_s", *self.words])
        writer.writerow(["song", "", *(f"{v:.4f}" for v in self.song_scores)])
        for start, row in zip(self.segment_starts, self.segment_scores):
            writer.writerow(["segment", f"{start:.1f}", *(f"{v:.4f}" for v in row)])
        return out.getvalue()


@dataclass
class WordExplanation:
    word: str
    nearest: list[tuple[str, str, float, list[str]]]  # (label, label set, cosine, its cluster)
    similarity_to_known: float  # best cosine to a label the adapter was trained on
    familiar: bool
    warning: str | None


class EmotionPipeline:
    """Encoder + adapter + text model.

    >>> pipe = EmotionPipeline()                       # offline default: musicnn + shipped adapter
    >>> song = pipe.analyze("song.mp3")
    >>> pipe.score(song, "wistful, furious").top_by_mean
    """

    def __init__(self, encoder: str | Encoder = DEFAULT_ENCODER, adapter: str | Path | None = None,
                 device: str | None = None, text_model: str | None = None,
                 max_seconds: float = MAX_SECONDS):
        self.device = device or default_device()
        self.encoder = load_encoder(encoder, self.device) if isinstance(encoder, str) else encoder
        self.max_seconds = max_seconds
        self.text = TextEncoder(text_model)
        self.set_adapter(adapter or f"{self.encoder.name}-default")

    def set_adapter(self, adapter: str | Path) -> None:
        """Switch the adapter (a shipped name or a .safetensors path); analyses made before
        can be brought over with `reembed`."""
        model, card = load_adapter(adapter, device=self.device)
        if model.config.input_dim != self.encoder.feature_dim:
            raise ValueError(f"Adapter {adapter} expects {model.config.input_dim}-d features but "
                             f"encoder {self.encoder.name} gives {self.encoder.feature_dim}-d.")
        if card.get("encoder", self.encoder.name) != self.encoder.name:
            raise ValueError(f"Adapter {adapter} was trained on {card['encoder']} features, "
                             f"not {self.encoder.name}.")
        self.adapter: Adapter = model
        self.adapter_card: dict = card
        self.adapter_name = str(adapter)
        self.__dict__.pop("trained_labels", None)

    # ---- audio -> embeddings -------------------------------------------------------------

    def analyze(self, audio: str | Path | tuple[int, np.ndarray] | np.ndarray, sr: int | None = None,
                name: str | None = None, progress: Progress | None = None,
                trim: bool = False) -> SongAnalysis:
        """Decode, segment, encode and embed a song.

        `audio` is a file path, a (sample_rate, samples) tuple as Gradio gives it, or an array
        with `sr`. Raises AudioError with a user-facing message for unusable audio.
        """
        report = progress or (lambda *a, **k: None)
        report(0.0, desc="Decoding audio")
        rate = self.encoder.sample_rate
        notices = []
        cap = int(self.max_seconds * rate)
        if isinstance(audio, (str, Path)):
            name = name or Path(audio).name
            samples = load_audio(audio, rate, max_seconds=self.max_seconds, trim=trim,
                                 name=name)
        else:
            if isinstance(audio, tuple):
                sr, audio = audio
            if sr is None:
                raise ValueError("An array needs its sample rate: analyze(array, sr=...)")
            samples = prepare_audio(_as_float(audio), int(sr), rate, name=name or "audio")
            if len(samples) > cap and not trim:
                raise AudioError(f"The audio is {len(samples) / rate / 60:.1f} min long; the "
                                 f"limit is {self.max_seconds / 60:.0f} min.")
        if trim and len(samples) >= cap:
            samples = samples[:cap]
            notices.append(f"Only the first {self.max_seconds / 60:.0f} min were analysed.")
        name = name or "audio"
        segments = split_segments(samples, rate)
        silent = silent_segments(segments)
        if silent.all():
            raise AudioError(f"{name} is silent: there is no music to analyse.")
        if silent.any():
            notices.append(f"{int(silent.sum())} of {len(silent)} segments are silent and are left "
                           f"out of the song-level result.")
        report(0.1, desc=f"Encoding {len(segments)} segments with {self.encoder.name}")
        encoded = self.encoder.encode(segments, progress=lambda f: report(0.1 + 0.8 * f,
                                                                          desc="Encoding"))
        report(0.9, desc="Mapping into the label space")
        tags = {}
        if encoded.tags is not None:
            mean_tags = encoded.tags[~silent].mean(axis=0)
            tags = {self.encoder.tag_names[i]: round(float(mean_tags[i]), 4)
                    for i in np.argsort(-mean_tags)}
        song = SongAnalysis(
            name=name, duration_s=len(samples) / rate,
            segment_starts=np.arange(len(segments)) * SEGMENT_SECONDS,
            features=encoded.features.astype(np.float32),
            segment_embeddings=self.embed_features(encoded.features, silent), silent=silent,
            tags=tags, notices=notices, encoder=self.encoder.name)
        report(1.0, desc="Done")
        return song

    def embed_features(self, features: np.ndarray, silent: np.ndarray | None = None) -> np.ndarray:
        """(S, feature_dim) encoder features of one song -> (S, 384) unit-norm embeddings."""
        mask = torch.ones(1, len(features), dtype=torch.bool, device=self.device)
        if silent is not None and not silent.all():
            mask[0, torch.as_tensor(silent)] = False  # silent segments do not inform the others
        x = torch.as_tensor(features, dtype=torch.float32, device=self.device)[None]
        with torch.inference_mode():
            return self.adapter(x, mask)[0].cpu().numpy()

    def reembed(self, song: SongAnalysis) -> SongAnalysis:
        """The same song under the current adapter (no audio needed)."""
        song.segment_embeddings = self.embed_features(song.features, song.silent)
        return song

    # ---- words ---------------------------------------------------------------------------

    def score(self, song: SongAnalysis, words: str | list[str], top_k: int = 3) -> EmotionScores:
        """Cosine of every word with every segment and with the song; never touches audio.
        Typed text (a str) may hold at most `MAX_WORDS` words; a list (e.g. a built-in
        vocabulary) may be longer."""
        words = parse_words(words, max_words=MAX_WORDS if isinstance(words, str) else None)
        top_k = max(1, min(top_k, len(words)))
        word_embeddings = self.text.embed(words)
        segment_scores = song.segment_embeddings @ word_embeddings.T
        song_scores = song.song_embedding @ word_embeddings.T
        votes = np.zeros(len(words), int)
        for row in segment_scores[~song.silent]:
            votes[np.argsort(-row)[:top_k]] += 1
        return EmotionScores(words, song.segment_starts, segment_scores, song_scores, votes, top_k)

    def score_label_set(self, song: SongAnalysis, label_set: str, top_k: int = 3) -> EmotionScores:
        return self.score(song, list(load_label_set(label_set).labels), top_k)

    @cached_property
    def trained_labels(self) -> list[str]:
        """The labels the current adapter was trained on (from its card)."""
        names = self.adapter_card.get("label_sets") or []
        if isinstance(names, dict):
            names = list(names)
        custom = self.adapter_card.get("custom_label_sets") or {}  # a folder's (training.py)
        return list(dict.fromkeys(
            l for n in names for l in custom.get(n, load_label_set(n).labels
                                                 if n in available_label_sets() else ())))

    @cached_property
    def builtin_clusters(self) -> LabelClusters:
        """All built-in labels at the paper's bandwidth: the quantile estimate over ~260
        labels is so wide that most of them would land in one cluster."""
        labels = list(load_label_set("all").labels)
        return label_clusters(labels, self.text.embed(labels), bandwidth=PAPER_BANDWIDTH)

    def explain(self, word: str, k: int = 5) -> WordExplanation:
        """Where a word sits: its nearest built-in labels (with their clusters) and how close it
        is to what the adapter was trained on."""
        (word,) = parse_words([word], max_words=1)
        clusters = self.builtin_clusters
        vector = self.text.embed([word])[0]
        similarity = clusters.embeddings @ vector
        owner = _label_set_of()
        nearest = [(clusters.labels[i], owner[clusters.labels[i]], round(float(similarity[i]), 4),
                    clusters.cluster_of(clusters.labels[i])) for i in np.argsort(-similarity)[:k]]
        trained = self.trained_labels or clusters.labels
        known = float((self.text.embed(trained) @ vector).max())
        familiar = known >= FAMILIAR_SIMILARITY
        warning = None if familiar else (
            f"'{word}' is far from every label the model was trained on (best cosine "
            f"{known:.2f} < {FAMILIAR_SIMILARITY}); treat its score with caution.")
        return WordExplanation(word, nearest, round(known, 4), familiar, warning)

    # ---- libraries -----------------------------------------------------------------------

    def search(self, words: str | list[str], library: list[SongAnalysis]) -> list[tuple[SongAnalysis, float]]:
        """Songs ranked by the mean cosine between their embedding and the words, best first."""
        if not library:
            return []
        query = self.text.embed(parse_words(words)).mean(axis=0)
        return _ranked(library, np.stack([s.song_embedding for s in library]) @ query)

    def similar(self, song: SongAnalysis, library: list[SongAnalysis]) -> list[tuple[SongAnalysis, float]]:
        """Other songs of the library ranked by cosine with `song`, best first."""
        others = [s for s in library if s is not song]
        if not others:
            return []
        return _ranked(others, np.stack([s.song_embedding for s in others]) @ song.song_embedding)

    def clusters(self, label_sets: list[str] = ("mtg", "cal500"), words: str | list[str] = (),
                 bandwidth: float | None = None, quantile: float = PAPER_QUANTILE) -> LabelClusters:
        """Mean Shift clusters over built-in vocabularies plus custom words."""
        labels = [l for n in label_sets for l in load_label_set(n).labels]
        if words:
            labels += parse_words(words)
        labels = list(dict.fromkeys(labels))
        if not labels:
            raise ValueError("Pick at least one label set or type some words.")
        return label_clusters(labels, self.text.embed(labels), bandwidth, quantile)


@lru_cache(maxsize=None)
def _label_set_of() -> dict[str, str]:
    """Built-in label -> the first built-in vocabulary that has it."""
    return {l: n for n in reversed(available_label_sets()) for l in load_label_set(n).labels}


def _as_float(audio: np.ndarray) -> np.ndarray:
    """Integer PCM (as Gradio hands it over) -> float in [-1, 1]."""
    audio = np.asarray(audio)
    if np.issubdtype(audio.dtype, np.integer):
        return audio.astype(np.float32) / float(np.iinfo(audio.dtype).max)
    return audio.astype(np.float32)


def _ranked(library: list[SongAnalysis], scores: np.ndarray) -> list[tuple[SongAnalysis, float]]:
    order = np.argsort(-scores)
    return [(library[i], round(float(scores[i]), 4)) for i in order]
