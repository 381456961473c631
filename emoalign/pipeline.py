"""The one object the app, the CLI, the benchmarks and the tests call.

`EmotionPipeline.analyze` turns audio into segment and song embeddings in the 384-d label
space once; `score`, `valence_arousal`, `explain`, `search` and `similar` then only embed
words and multiply. `predict` does analyse + score + valence/arousal in one call and returns
a `Prediction`, whose `to_dict()` is the output contract (results.py).

Scores are calibrated against the reference corpus of the encoder (calibration.py,
assets/reference/<encoder>.safetensors): a word's score is the share of the reference songs
whose cosine with it is lower. Without a reference they stay raw cosines (`calibrated` false).
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .adapter import Adapter, load_adapter
from .audio import (MAX_SECONDS, SEGMENT_SECONDS, AudioError, load_audio, prepare_audio,
                    silent_segments, split_segments)
from .calibration import Calibrator, cosines, word_calibrator
from .clusters import PAPER_BANDWIDTH, PAPER_QUANTILE, LabelClusters, label_clusters
from .encoders import DEFAULT_ENCODER, Encoder, load_encoder
from .labels import MAX_WORDS, available_label_sets, load_label_set, parse_words
from .reference import Reference, embeddings_under, open_reference
from .safety import BoundedCache
from .results import (EmotionScores, Prediction, SongAnalysis, ValenceArousal, WordExplanation,
                      rank_order)
from .segments import default_device
from .text import TextEncoder
from .valence_arousal import CIRCUMPLEX, pole_scores

__all__ = ["EmotionPipeline", "EmotionScores", "Prediction", "Reference", "SongAnalysis",
           "ValenceArousal", "WordExplanation"]

FAMILIAR_SIMILARITY = 0.5  # a word this close (cosine) to a trained label is in known territory
DEFAULT_LABELS = "gems"  # the words `predict` scores when none are given
CALIBRATOR_CACHE = 32  # word lists whose calibrators a pipeline keeps
Progress = Callable[..., None]  # progress(fraction, desc=...) like gr.Progress


class EmotionPipeline:
    """Encoder + adapter + text model.

    >>> pipe = EmotionPipeline()                       # offline default: musicnn + shipped adapter
    >>> song = pipe.analyze("song.mp3")
    >>> pipe.predict("song.mp3", "wistful, furious").to_dict()   # the output contract
    >>> song = pipe.analyze("song.mp3")                            # or step by step
    >>> pipe.score(song, "wistful, furious").ranking(), pipe.valence_arousal(song).describe()

    `reference`: the reference corpus file; None takes the shipped one for the encoder
    (assets/reference/<encoder>.safetensors) when it exists, False goes without.
    """

    def __init__(self, encoder: str | Encoder = DEFAULT_ENCODER, adapter: str | Path | None = None,
                 device: str | None = None, text_model: str | None = None,
                 max_seconds: float = MAX_SECONDS, reference: str | Path | bool | None = None):
        self.device = device or default_device()
        self.encoder = load_encoder(encoder, self.device) if isinstance(encoder, str) else encoder
        self.max_seconds = max_seconds
        self.text = TextEncoder(text_model)
        self.reference_file = reference
        self._calibrators = BoundedCache(CALIBRATOR_CACHE)  # word list -> Calibrator
        self.set_adapter(adapter or f"{self.encoder.name}-default")

    def set_adapter(self, adapter: str | Path) -> None:
        """Switch the adapter (a shipped name or a .safetensors path); analyses made before
        can be brought over with `reembed`. The reference corpus follows (re-embedded from its
        features when it was built with another adapter)."""
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
        self._load_reference()

    # ---- calibration ---------------------------------------------------------------------

    @property
    def calibrated(self) -> bool:
        """Whether scores and valence/arousal are read against a reference corpus."""
        return self.reference is not None

    def _load_reference(self) -> None:
        """The encoder's reference corpus with its song embeddings under the current adapter:
        the stored ones when the adapter's SHA-256 matches, else re-embedded from its features."""
        self.reference: Reference | None
        self.reference, notice = open_reference(self.encoder.name, self.encoder.feature_dim,
                                                None if self.reference_file is True
                                                else self.reference_file)
        self.calibration_notices = [notice] if notice else []
        self.reference_embeddings = self._pole_calibrator = None
        self._calibrators.clear()
        if self.reference is not None:
            self.reference_embeddings = embeddings_under(self.reference, self.adapter,
                                                         self.adapter_card["sha256"])
            if self.reference.head is None:
                self._pole_calibrator = Calibrator(
                    pole_scores(self.reference_embeddings, self.text.embed), self.reference.weights)

    def _word_calibrator(self, words: list[str], embeddings: np.ndarray) -> Calibrator | None:
        """Calibrator over the reference songs' cosines with `words` (a small LRU)."""
        if self.reference is None:
            return None
        return self._calibrators.get_or_create(tuple(words), lambda: word_calibrator(
            self.reference_embeddings, self.reference.weights, embeddings))

    @property
    def _needs_tonal(self) -> bool:
        return self.reference is not None and self.reference.head is not None \
            and self.reference.head.n_tonal > 0

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
            tags=tags, notices=notices, encoder=self.encoder.name,
            tonal=_tonal(segments, rate) if self._needs_tonal else None)
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

    def predict(self, audio: SongAnalysis | str | Path | tuple[int, np.ndarray],
                words: str | list[str] | None = None, top_k: int = 3, trim: bool = False,
                progress: Progress | None = None) -> Prediction:
        """Analyse (unless given a SongAnalysis), score `words` (default: GEMS-9) and read
        valence/arousal. `.to_dict()` of the result is the output contract."""
        song = audio if isinstance(audio, SongAnalysis) else self.analyze(
            audio, progress=progress, trim=trim)
        words = list(load_label_set(DEFAULT_LABELS).labels) if words is None else words
        scores, va = self.score(song, words, top_k), self.valence_arousal(song)
        notices = [*song.notices, *self.calibration_notices]
        if self.reference is not None and self.reference.head is not None and va.method != "head":
            notices.append("Valence/arousal comes from pole words: this analysis has no tonal "
                           "features (analyse the song again).")
        return Prediction(song, scores, va, notices)

    def score(self, song: SongAnalysis, words: str | list[str], top_k: int = 3) -> EmotionScores:
        """Every word against every segment and the song: calibrated scores in [0, 1] and raw
        cosines; never touches audio. Typed text (a str) may hold at most `MAX_WORDS` words; a
        list (e.g. a built-in vocabulary) may be longer."""
        words = parse_words(words, max_words=MAX_WORDS if isinstance(words, str) else None)
        top_k = max(1, min(top_k, len(words)))
        word_embeddings = self.text.embed(words)
        segment_raw = cosines(song.segment_embeddings, word_embeddings)
        song_raw = cosines(song.song_embedding, word_embeddings)
        calibrator = self._word_calibrator(words, word_embeddings)
        song_scores, segment_scores = ((song_raw, segment_raw) if calibrator is None else
                                       (calibrator.percentile(song_raw[None])[0],
                                        calibrator.percentile(segment_raw)))
        votes = np.zeros(len(words), int)
        for raw, row in zip(segment_raw[~song.silent], segment_scores[~song.silent]):
            votes[rank_order(row, raw)[:top_k]] += 1
        return EmotionScores(words, song.segment_starts, song_scores, segment_scores, song_raw,
                             segment_raw, votes, top_k, calibrator is not None)

    def score_embeddings(self, embeddings: np.ndarray, words: list[str]) -> np.ndarray:
        """(N, 384) song embeddings (e.g. a whole library) -> (N, W) scores of `words`,
        calibrated like `score`'s song scores (raw cosines without a reference)."""
        word_embeddings = self.text.embed(list(words))
        raw = cosines(embeddings, word_embeddings)
        calibrator = self._word_calibrator(list(words), word_embeddings)
        return raw if calibrator is None else calibrator.percentile(raw)

    def valence_arousal(self, song: SongAnalysis) -> ValenceArousal:
        """Song and segment valence/arousal in [-1, 1]: the reference's head (or pole words
        without one) read against the reference songs; raw pole scores, clipped, without a
        reference. The song's value comes from the mean over its non-silent segments."""
        head = self.reference.head if self.reference is not None else None
        if head is not None and (song.tonal is not None or head.n_tonal == 0):
            tonal = song.tonal if song.tonal is not None else np.zeros((song.n_segments, 0))
            segment_raw = head.predict(song.features, tonal)
            song_raw = segment_raw[~song.silent].mean(axis=0)
            calibrator, method = self.reference.head_calibrator, "head"
        else:
            segment_raw = pole_scores(song.segment_embeddings, self.text.embed)
            song_raw = pole_scores(song.song_embedding[None], self.text.embed)[0]
            calibrator, method = self._pole_calibrator, "pole words"
        if calibrator is None:
            song_va, segment_va = np.clip(song_raw, -1, 1), np.clip(segment_raw, -1, 1)
        else:
            song_va = calibrator.signed(song_raw[None])[0]
            segment_va = calibrator.signed(segment_raw)
        return ValenceArousal(float(song_va[0]), float(song_va[1]), segment_va,
                              calibrator is not None, method)

    def score_label_set(self, song: SongAnalysis, label_set: str, top_k: int = 3) -> EmotionScores:
        return self.score(song, list(load_label_set(label_set).labels), top_k)

    @cached_property
    def trained_labels(self) -> list[str]:
        """The labels the current adapter was trained on (from its card)."""
        names = self.adapter_card.get("label_sets") or []
        if isinstance(names, dict):
            names = list(names)
        custom = {"circumplex": list(CIRCUMPLEX),  # the valence/arousal sets' words
                  **(self.adapter_card.get("custom_label_sets") or {})}  # a folder's (training.py)
        return list(dict.fromkeys(
            l for n in names for l in custom.get(n, load_label_set(n).labels
                                                 if n in available_label_sets() else ())))

    @cached_property
    def builtin_clusters(self) -> LabelClusters:
        """All built-in labels at the paper's bandwidth: the quantile estimate over ~260
        labels is so wide that most of them would land in one cluster."""
        labels = list(load_label_set("all").labels)
        return label_clusters(labels, self.text.embed(labels, described=False),
                              bandwidth=PAPER_BANDWIDTH)

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
        return label_clusters(labels, self.text.embed(labels, described=False), bandwidth, quantile)


@lru_cache(maxsize=None)
def _label_set_of() -> dict[str, str]:
    """Built-in label -> the first built-in vocabulary that has it."""
    return {l: n for n in reversed(available_label_sets()) for l in load_label_set(n).labels}


def _tonal(segments: np.ndarray, rate: int) -> np.ndarray:
    """(S, samples) segments at `rate` -> (S, 16) tonal features (computed at 16 kHz)."""
    from .tonal import TONAL_SAMPLE_RATE, TonalEncoder

    if rate != TONAL_SAMPLE_RATE:
        import soxr
        segments = soxr.resample(np.ascontiguousarray(segments.T), rate, TONAL_SAMPLE_RATE).T
    return TonalEncoder().encode(np.ascontiguousarray(segments, dtype=np.float32)).features


def _as_float(audio: np.ndarray) -> np.ndarray:
    """Integer PCM (as Gradio hands it over) -> float in [-1, 1]."""
    audio = np.asarray(audio)
    if np.issubdtype(audio.dtype, np.integer):
        return audio.astype(np.float32) / float(np.iinfo(audio.dtype).max)
    return audio.astype(np.float32)


def _ranked(library: list[SongAnalysis], scores: np.ndarray) -> list[tuple[SongAnalysis, float]]:
    order = np.argsort(-scores)
    return [(library[i], round(float(scores[i]), 4)) for i in order]


def analysis_only(pipe: EmotionPipeline) -> EmotionPipeline:
    """For a process that only analyses songs (the CLI's predict and index, the speed bench):
    when the encoder's network runs on ONNX Runtime, with its own thread pool, torch is left
    with light work (log-mel, adapter) whose idle OpenMP workers spin after every op. One torch
    thread then saves about a tenth of the CPU per clip at the same wall time
    (bench/bench_speed.py). Not for the app, which also trains adapters with torch."""
    if getattr(pipe.encoder, "backend", None) == "onnx" and torch.device(pipe.device).type == "cpu":
        torch.set_num_threads(1)
    return pipe
