"""The one object the app, the CLI, the benchmarks and the tests call.

`EmotionPipeline.analyze` turns audio into segment and song embeddings in the 384-d label
space once; `score`, `valence_arousal`, `explain`, `search` and `similar` then only embed
words and multiply. `predict` does analyse + score + valence/arousal in one call and returns
a `Prediction`, whose `to_dict()` is the output contract (results.py).

Scores are calibrated against the reference corpus of the encoder (calibration.py,
assets/reference/<encoder>.safetensors): a word's calibrated cosine is the share of the
reference songs whose cosine with it is lower, and its score blends that with how near the word
sits to the song's valence/arousal reading (plane.py), so the words and the reading on one card
agree. Without a reference they stay raw cosines (`calibrated` false). The reference also
brings the music check and the neutral band (confidence.py).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import vocabulary
from ..audio.encoders import DEFAULT_ENCODER, Encoder, load_encoder
from ..audio.load import (MAX_SECONDS, SEGMENT_SECONDS, AudioError, load_audio, prepare_audio,
                          silent_segments, split_segments)
from ..audio.segments import default_device
from ..audio.tonal import segment_tonal_features
from ..cache import BoundedCache
from ..text.clusters import PAPER_QUANTILE, LabelClusters
from ..text.encoder import TextEncoder
from ..text.labels import DEFAULT_LABELS, MAX_WORDS, is_emotion, load_label_set, parse_words
from .adapter import Adapter, load_adapter
from .calibration import Calibrator, word_calibrator, word_cosines
from .confidence import NOT_MUSIC_NOTICE, MUSIC_THRESHOLD
from .plane import ANCHORS, agreement, blend, place_words
from .reference import Reference, embeddings_under, open_reference, reference_valence_arousal
from .results import (EmotionScores, Prediction, SongAnalysis, ValenceArousal, WordExplanation,
                      rank_order, ranked)
from .valence_arousal import pole_scores

__all__ = ["EmotionPipeline", "EmotionScores", "Prediction", "Reference", "SongAnalysis",
           "ValenceArousal", "WordExplanation"]

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
        self.__dict__.pop("reference_valence_arousal", None)
        self._calibrators.clear()
        if self.reference is not None:
            self.reference_embeddings = embeddings_under(  # float64 once: word_cosines reads it
                self.reference, self.adapter, self.adapter_card["sha256"]).astype(np.float64)
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
            samples = prepare_audio(audio, int(sr), rate, name=name or "audio")
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
            tonal=segment_tonal_features(segments, rate) if self._needs_tonal else None)
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
        """Analyse (unless given a SongAnalysis), read valence/arousal, score `words` (default:
        the plain mood words) and check that the audio is music. `.to_dict()` of the result is
        the output contract."""
        song = audio if isinstance(audio, SongAnalysis) else self.analyze(
            audio, progress=progress, trim=trim)
        words = list(load_label_set(DEFAULT_LABELS).labels) if words is None else words
        va = self.valence_arousal(song)
        scores = self.score(song, words, top_k, va=va)
        notices = [*song.notices, *self.calibration_notices]
        if self.reference is not None and self.reference.head is not None and va.method != "head":
            notices.append("Valence/arousal comes from pole words: this analysis has no tonal "
                           "features (analyse the song again).")
        music = self.music_probability(song)
        if music is not None and music < MUSIC_THRESHOLD:
            va.not_music = True
            notices.insert(0, NOT_MUSIC_NOTICE)
        return Prediction(song, scores, va, notices, music)

    def music_probability(self, song: SongAnalysis) -> float | None:
        """p(music) of the music check (confidence.py), or None without one (or without the
        song's tonal features)."""
        check = self.reference.music_check if self.reference is not None else None
        if check is None or song.tonal is None or song.silent.all():
            return None
        keep = ~song.silent
        return check.probability(song.features[keep], song.tonal[keep])

    def score(self, song: SongAnalysis, words: str | list[str], top_k: int = 3,
              va: ValenceArousal | None = None) -> EmotionScores:
        """Every word against every segment and the song: scores in [0, 1] (the calibrated
        cosine blended with the word's agreement with the valence/arousal reading `va`, read
        here when not given) and raw cosines; never touches audio. Typed text (a str) may hold
        at most `MAX_WORDS` words; a list (e.g. a built-in vocabulary) may be longer."""
        words = parse_words(words, max_words=MAX_WORDS if isinstance(words, str) else None)
        top_k = max(1, min(top_k, len(words)))
        word_embeddings = self.text.embed(words)
        segment_raw = word_cosines(song.segment_embeddings, word_embeddings)
        song_raw = word_cosines(song.song_embedding, word_embeddings)
        calibrator = self._word_calibrator(words, word_embeddings)
        places = affect = cosine_scores = None
        if calibrator is None:
            song_scores, segment_scores = song_raw, segment_raw
        else:
            cosine_scores = calibrator.percentile(song_raw[None])[0]
            va = va or self.valence_arousal(song)
            places, affect = self.word_places(words)
            song_scores = blend(cosine_scores, agreement(np.array([va.valence, va.arousal]), places),
                                affect)
            segment_scores = blend(calibrator.percentile(segment_raw),
                                   agreement(va.segments, places), affect)
        votes = np.zeros(len(words), int)
        for raw, row in zip(segment_raw[~song.silent], segment_scores[~song.silent]):
            votes[rank_order(row, raw)[:top_k]] += 1
        return EmotionScores(words, song.segment_starts, song_scores, segment_scores, song_raw,
                             segment_raw, votes, top_k, calibrator is not None, cosine_scores,
                             places, affect)

    def word_places(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(W, 2) places of words on the valence/arousal plane and (W,) affect in [0, 1]
        (plane.py); theme and usage tags (film, christmas) are not emotions: affect 0."""
        places, affect = place_words(self.text.embed(list(words)), *self._anchors)
        affect = affect * np.array([is_emotion(w) for w in words], float)
        return places, affect

    def word_positions(self, words: str | list[str]) -> np.ndarray:
        """(W, 2) valence/arousal places of words (typed text or a list)."""
        return self.word_places(parse_words(words))[0]

    @cached_property
    def _anchors(self) -> tuple[np.ndarray, np.ndarray]:
        names = list(ANCHORS)
        return self.text.embed(names), np.array([ANCHORS[w] for w in names], float)

    @cached_property
    def reference_valence_arousal(self) -> np.ndarray | None:
        """(N, 2) the reference songs' readings in [-1, 1], or None without a reference."""
        return None if self.reference is None else reference_valence_arousal(self.reference)

    def rank_songs(self, words: str | list[str], embeddings: np.ndarray,
                   valence_arousal: np.ndarray | None = None) -> np.ndarray:
        """(N,) one number per song for a word query, the mean over the words of the score
        `predict` shows (search by words ranks by it)."""
        words = parse_words(words) if isinstance(words, str) else list(words)
        return self.score_embeddings(embeddings, words, valence_arousal).mean(axis=1)

    def score_embeddings(self, embeddings: np.ndarray, words: list[str],
                         valence_arousal: np.ndarray | None = None) -> np.ndarray:
        """(N, 384) song embeddings (e.g. a whole library) -> (N, W) scores of `words`,
        calibrated like `score`'s song scores and, given the songs' (N, 2) valence/arousal,
        blended with the plane the same way (raw cosines without a reference). A song whose
        valence/arousal is unknown (NaN) keeps its calibrated cosine."""
        words = list(words)
        word_embeddings = self.text.embed(words)
        raw = word_cosines(embeddings, word_embeddings)
        calibrator = self._word_calibrator(words, word_embeddings)
        if calibrator is None:
            return raw
        scores = calibrator.percentile(raw)
        if valence_arousal is None:
            return scores
        va = np.asarray(valence_arousal, np.float64).reshape(-1, 2)
        places, affect = self.word_places(words)
        known = np.isfinite(va).all(axis=1)
        scores[known] = blend(scores[known], agreement(va[known], places), affect)
        return scores

    def valence_arousal(self, song: SongAnalysis) -> ValenceArousal:
        """Song and segment valence/arousal in [-1, 1]: the reference's head (or pole words
        without one) read against the reference songs; raw pole scores, clipped, without a
        reference. The song's value comes from the mean over its non-silent segments."""
        head = self.reference.head if self.reference is not None else None
        if head is not None and (song.tonal is not None or head.n_tonal == 0):
            tonal = song.tonal if song.tonal is not None else np.zeros((song.n_segments, 0))
            keep = ~song.silent
            segment_raw = head.predict(song.features, tonal)  # the piano gate: every segment
            song_raw = head.predict(song.features[keep], tonal[keep]).mean(axis=0)
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
        radius = self.reference.neutral_radius if calibrator is not None else 0.0
        return ValenceArousal(float(song_va[0]), float(song_va[1]), segment_va,
                              calibrator is not None, method, radius)

    def score_label_set(self, song: SongAnalysis, label_set: str, top_k: int = 3) -> EmotionScores:
        return self.score(song, list(load_label_set(label_set).labels), top_k)

    @cached_property
    def trained_labels(self) -> list[str]:
        """The labels the current adapter was trained on (from its card)."""
        return vocabulary.trained_labels(self.adapter_card)

    @cached_property
    def builtin_clusters(self) -> LabelClusters:
        return vocabulary.builtin_clusters(self.text)

    def explain(self, word: str, k: int = 5) -> WordExplanation:
        """Where a word sits: its nearest built-in labels (with their clusters) and how close it
        is to what the adapter was trained on."""
        return vocabulary.explain(self.text, word, self.builtin_clusters, self.trained_labels, k)

    # ---- libraries -----------------------------------------------------------------------

    def search(self, words: str | list[str], library: list[SongAnalysis]) -> list[tuple[SongAnalysis, float]]:
        """Songs ranked by the mean over the words of the score `predict` shows (calibrated
        and plane-aware), best first."""
        if not library:
            return []
        va = np.array([[v.valence, v.arousal] for v in map(self.valence_arousal, library)])
        scores = self.rank_songs(parse_words(words), np.stack([s.song_embedding for s in library]),
                                 va)
        return [(library[i], score) for i, score in ranked(scores)]

    def similar(self, song: SongAnalysis, library: list[SongAnalysis]) -> list[tuple[SongAnalysis, float]]:
        """Other songs of the library ranked by cosine with `song`, best first; a song whose
        embedding equals one already listed (the same audio twice) is listed once."""
        others = [s for s in library if s is not song]
        if not others:
            return []
        embeddings = np.stack([s.song_embedding for s in others])
        return [(others[i], score) for i, score in ranked(embeddings @ song.song_embedding,
                                                          embeddings)]

    def clusters(self, label_sets: list[str] = ("mtg", "cal500"), words: str | list[str] = (),
                 bandwidth: float | None = None, quantile: float = PAPER_QUANTILE) -> LabelClusters:
        """Mean Shift clusters over built-in vocabularies plus custom words."""
        return vocabulary.clusters(self.text, label_sets, words, bandwidth, quantile)


def analysis_only(pipe: EmotionPipeline) -> EmotionPipeline:
    """For a process that only analyses songs (the CLI's predict and index, the speed bench):
    when the encoder's network runs on ONNX Runtime, with its own thread pool, torch is left
    with light work (log-mel, adapter) whose idle OpenMP workers spin after every op. One torch
    thread then saves about a tenth of the CPU per clip at the same wall time
    (bench/bench_speed.py). Not for the app, which also trains adapters with torch."""
    if getattr(pipe.encoder, "backend", None) == "onnx" and torch.device(pipe.device).type == "cpu":
        torch.set_num_threads(1)
    return pipe
