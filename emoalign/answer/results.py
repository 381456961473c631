"""What the pipeline returns: a song's analysis, its word scores, its valence/arousal, and the
one prediction object whose `to_dict()` is the output contract of the CLI and the API.

The contract (`Prediction.to_dict`; keep it stable, it is documented in docs/cli.md): `file`,
`duration_s`, `valence`, `arousal` (in [-1, 1]), `quadrant` ({"number", "words"}; number 0 is
"neutral / mixed", or "not music"), `calibrated`, `ranking` (best first: {word, score, raw,
meaning, votes, cosine_score, place}), `notices`, `music` ({"probability", "is_music"}), and
with `segments=True`, `segments` ([{start_s, valence, arousal, top, scores, silent}]). Fields
are only ever added.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import numpy as np

from .calibration import meaning
from .confidence import NEUTRAL_WORDS, reading_quadrant
from .valence_arousal import QUADRANT_WORDS

UNCALIBRATED_MEANING = "cosine similarity (no reference corpus to compare it with)"
NOT_MUSIC_WORDS = "not music"


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
    tonal: np.ndarray | None = None  # (S, 16) tonal features at 16 kHz, when the VA head needs them

    @property
    def n_segments(self) -> int:
        return len(self.segment_starts)

    @property
    def song_embedding(self) -> np.ndarray:
        """(384,) normalised mean of the non-silent segment embeddings."""
        mean = self.segment_embeddings[~self.silent].mean(axis=0)
        return mean / max(np.linalg.norm(mean), 1e-12)


def song_key(embedding: np.ndarray) -> bytes:
    """A song's identity in a ranked list: equal for the same audio embedded twice (to 3
    decimals), so a song that sits in two places (an example that is also a reference song,
    your copy of it) is listed once."""
    return np.round(np.asarray(embedding, np.float64) * 1000).astype(np.int32).tobytes()


def ranked(scores: np.ndarray, embeddings: np.ndarray | None = None,
           leave_out: int | None = None, top: int | None = None) -> list[tuple[int, float]]:
    """(row, score to 4 places) best first, ties in row order. Given the rows' song
    `embeddings`, each song once (`song_key`); `leave_out` is never listed (its copies
    elsewhere are)."""
    out, seen = [], set()
    for i in np.argsort(-np.asarray(scores), kind="stable"):
        if i == leave_out:
            continue
        if embeddings is not None:
            key = song_key(embeddings[i])
            if key in seen:
                continue
            seen.add(key)
        out.append((int(i), round(float(scores[i]), 4)))
        if top is not None and len(out) >= top:
            break
    return out


def rank_order(scores: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Word indices best first: by score, the raw cosine breaking ties (many percentiles tie)."""
    return np.lexsort((-raw, -scores))


@dataclass
class EmotionScores:
    """Words scored on one song. `song_scores` and `segment_scores` are THE scores, in [0, 1]:
    the calibrated cosine (the share of the reference songs whose cosine with the word is
    lower) blended with how near the word sits to the song's valence/arousal reading
    (plane.py); plain cosines when `calibrated` is false. `song_raw` and `segment_raw` are the
    cosines, `cosine_scores` the calibrated cosines before the blend."""
    words: list[str]
    segment_starts: np.ndarray  # (S,) seconds
    song_scores: np.ndarray  # (W,) calibrated
    segment_scores: np.ndarray  # (S, W) calibrated
    song_raw: np.ndarray  # (W,) cosine with the song embedding
    segment_raw: np.ndarray  # (S, W) cosine with each segment embedding
    vote_counts: np.ndarray  # (W,) non-silent segments that put the word in their top k
    top_k: int
    calibrated: bool = True
    cosine_scores: np.ndarray | None = None  # (W,) calibrated cosines before the blend
    places: np.ndarray | None = None  # (W, 2) each word's place on the valence/arousal plane
    affect: np.ndarray | None = None  # (W,) how sure that place is (0: not an emotion word)

    @property
    def order(self) -> np.ndarray:
        """Word indices in ranking order: score, then raw cosine to break ties."""
        return rank_order(self.song_scores, self.song_raw)

    @property
    def top(self) -> list[str]:
        """The `top_k` best words."""
        return [self.words[i] for i in self.order[: self.top_k]]

    def segment_order(self, s: int) -> np.ndarray:
        """Word indices of segment `s` in ranking order."""
        return rank_order(self.segment_scores[s], self.segment_raw[s])

    def segment_top(self, s: int) -> list[str]:
        """The `top_k` best words of segment `s`."""
        return [self.words[i] for i in self.segment_order(s)[: self.top_k]]

    def meaning(self, i: int) -> str:
        if not self.calibrated:
            return UNCALIBRATED_MEANING
        cosine = self.cosine_scores[i] if self.cosine_scores is not None else self.song_scores[i]
        text = f"sound {meaning(float(cosine))}"
        if self.places is not None and self.affect[i] > 0:
            fit = ("close to" if self.song_scores[i] >= cosine else "far from")
            text += f"; the word sits {fit} the song's valence/arousal reading"
        return text

    def ranking(self) -> list[dict]:
        """One row per word in ranking order: word, score, raw, meaning, votes, cosine_score
        (the calibrated cosine alone), place ([valence, arousal] of the word, or None)."""
        return [{"word": self.words[i], "score": round(float(self.song_scores[i]), 4),
                 "raw": round(float(self.song_raw[i]), 4), "meaning": self.meaning(i),
                 "votes": int(self.vote_counts[i]),
                 "cosine_score": round(float((self.cosine_scores if self.cosine_scores is not None
                                              else self.song_scores)[i]), 4),
                 "place": (None if self.places is None or self.affect[i] == 0 else
                           [round(float(x), 2) for x in self.places[i]])} for i in self.order]


@dataclass
class ValenceArousal:
    """Valence and arousal in [-1, 1] (0: the reference corpus's median), song and segments."""
    valence: float
    arousal: float
    segments: np.ndarray  # (S, 2) valence, arousal
    calibrated: bool
    method: str  # "head" (encoder + tonal features) or "pole words"
    neutral_radius: float = 0.0  # a reading nearer the centre names no quadrant
    not_music: bool = False  # the music check heard no music: no quadrant either

    @property
    def quadrant(self) -> int:
        """Russell quadrant 1..4 (1 +v+a, 2 -v+a, 3 -v-a, 4 +v-a); 0 for a reading too near
        the centre to name one ("neutral / mixed") and for audio that is not music."""
        return 0 if self.not_music else reading_quadrant(self.valence, self.arousal,
                                                         self.neutral_radius)

    @property
    def quadrant_words(self) -> str:
        if self.not_music:
            return NOT_MUSIC_WORDS
        return QUADRANT_WORDS.get(self.quadrant, NEUTRAL_WORDS)

    def describe(self) -> str:
        """'Valence +0.42 (positive), arousal -0.31 (calm): calm, peaceful (quadrant 4)'."""
        return (f"Valence {self.valence:+.2f} ({'positive' if self.valence >= 0 else 'negative'})"
                f", arousal {self.arousal:+.2f} ({'energetic' if self.arousal >= 0 else 'calm'})"
                f": {self.quadrant_words}"
                + (f" (quadrant {self.quadrant})" if self.quadrant else "")
                + ("" if self.calibrated else " (uncalibrated)"))


@dataclass
class Prediction:
    """Everything one song's answer holds; `to_dict()` is the output contract."""
    song: SongAnalysis
    scores: EmotionScores
    va: ValenceArousal
    notices: list[str] = field(default_factory=list)  # the song's, then calibration's
    music_probability: float | None = None  # the music check's p(music); None without one

    @property
    def calibrated(self) -> bool:
        return self.scores.calibrated and self.va.calibrated

    @property
    def is_music(self) -> bool:
        return not self.va.not_music

    def to_dict(self, segments: bool = False) -> dict:
        out = {"file": self.song.name, "duration_s": round(float(self.song.duration_s), 2),
               "valence": round(self.va.valence, 4), "arousal": round(self.va.arousal, 4),
               "quadrant": {"number": self.va.quadrant, "words": self.va.quadrant_words},
               "calibrated": self.calibrated, "ranking": self.scores.ranking(),
               "notices": list(self.notices),
               "music": {"probability": None if self.music_probability is None
                         else round(self.music_probability, 4), "is_music": self.is_music}}
        if segments:
            s = self.scores
            out["segments"] = [
                {"start_s": float(start), "valence": round(float(va[0]), 4),
                 "arousal": round(float(va[1]), 4), "top": s.segment_top(i),
                 "scores": {w: round(float(v), 4) for w, v in zip(s.words, s.segment_scores[i])},
                 "silent": bool(self.song.silent[i])}
                for i, (start, va) in enumerate(zip(s.segment_starts, self.va.segments))]
        return out

    def to_json(self, segments: bool = True) -> str:
        return json.dumps(self.to_dict(segments), indent=1, ensure_ascii=False)

    def to_csv(self) -> str:
        """Long format: one row per word for the song (ranking order), then one per word and
        segment; `score` is calibrated, `raw` the cosine."""
        s, out = self.scores, io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["level", "start_s", "word", "rank", "score", "raw", "votes",
                         "valence", "arousal"])
        for rank, i in enumerate(s.order, 1):
            writer.writerow(["song", "", s.words[i], rank, f"{s.song_scores[i]:.4f}",
                             f"{s.song_raw[i]:.4f}", int(s.vote_counts[i]),
                             f"{self.va.valence:.4f}", f"{self.va.arousal:.4f}"])
        for t, start in enumerate(s.segment_starts):
            for rank, i in enumerate(s.segment_order(t), 1):
                writer.writerow(["segment", f"{start:.1f}", s.words[i], rank,
                                 f"{s.segment_scores[t, i]:.4f}", f"{s.segment_raw[t, i]:.4f}",
                                 "", f"{self.va.segments[t, 0]:.4f}",
                                 f"{self.va.segments[t, 1]:.4f}"])
        return out.getvalue()


@dataclass
class WordExplanation:
    word: str
    nearest: list[tuple[str, str, float, list[str]]]  # (label, label set, cosine, its cluster)
    similarity_to_known: float  # best cosine to a label the adapter was trained on
    familiar: bool
    warning: str | None
