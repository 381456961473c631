"""What the pipeline returns: a song's analysis, its word scores, its valence/arousal, and the
one prediction object whose `to_dict()` is the output contract of the CLI and the API.

The contract (`Prediction.to_dict`; keep it stable, it is documented in the README):
`file`, `duration_s`, `valence`, `arousal` (in [-1, 1]), `quadrant` ({"number", "words"}),
`calibrated`, `ranking` (best first: {word, score, raw, meaning, votes}), `notices`, and with
`segments=True`, `segments` ([{start_s, valence, arousal, top, scores}]).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import numpy as np

from .calibration import meaning
from .valence_arousal import QUADRANT_WORDS, quadrant_of

UNCALIBRATED_MEANING = "cosine similarity (no reference corpus to compare it with)"


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


def rank_order(scores: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Word indices best first: by score, the raw cosine breaking ties (many percentiles tie)."""
    return np.lexsort((-raw, -scores))


@dataclass
class EmotionScores:
    """Words scored on one song. `song_scores` and `segment_scores` are THE scores: the share
    of the reference songs whose cosine with the word is lower, in [0, 1] (plain cosines when
    `calibrated` is false). `song_raw` and `segment_raw` are the cosines."""
    words: list[str]
    segment_starts: np.ndarray  # (S,) seconds
    song_scores: np.ndarray  # (W,) calibrated
    segment_scores: np.ndarray  # (S, W) calibrated
    song_raw: np.ndarray  # (W,) cosine with the song embedding
    segment_raw: np.ndarray  # (S, W) cosine with each segment embedding
    vote_counts: np.ndarray  # (W,) non-silent segments that put the word in their top k
    top_k: int
    calibrated: bool = True

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
        return meaning(float(self.song_scores[i])) if self.calibrated else UNCALIBRATED_MEANING

    def ranking(self) -> list[dict]:
        """One row per word in ranking order: word, score, raw, meaning, votes."""
        return [{"word": self.words[i], "score": round(float(self.song_scores[i]), 4),
                 "raw": round(float(self.song_raw[i]), 4), "meaning": self.meaning(i),
                 "votes": int(self.vote_counts[i])} for i in self.order]


@dataclass
class ValenceArousal:
    """Valence and arousal in [-1, 1] (0: the reference corpus's median), song and segments."""
    valence: float
    arousal: float
    segments: np.ndarray  # (S, 2) valence, arousal
    calibrated: bool
    method: str  # "head" (encoder + tonal features) or "pole words"

    @property
    def quadrant(self) -> int:
        """Russell quadrant 1..4 (1 +v+a, 2 -v+a, 3 -v-a, 4 +v-a)."""
        return int(quadrant_of(self.valence, self.arousal))

    @property
    def quadrant_words(self) -> str:
        return QUADRANT_WORDS[self.quadrant]

    def describe(self) -> str:
        """'Valence +0.42 (positive), arousal -0.31 (calm): calm, peaceful (quadrant 4)'."""
        return (f"Valence {self.valence:+.2f} ({'positive' if self.valence >= 0 else 'negative'})"
                f", arousal {self.arousal:+.2f} ({'energetic' if self.arousal >= 0 else 'calm'})"
                f": {self.quadrant_words} (quadrant {self.quadrant})"
                + ("" if self.calibrated else " (uncalibrated)"))


@dataclass
class Prediction:
    """Everything one song's answer holds; `to_dict()` is the output contract."""
    song: SongAnalysis
    scores: EmotionScores
    va: ValenceArousal
    notices: list[str] = field(default_factory=list)  # the song's, then calibration's

    @property
    def calibrated(self) -> bool:
        return self.scores.calibrated and self.va.calibrated

    def to_dict(self, segments: bool = False) -> dict:
        out = {"file": self.song.name, "duration_s": round(float(self.song.duration_s), 2),
               "valence": round(self.va.valence, 4), "arousal": round(self.va.arousal, 4),
               "quadrant": {"number": self.va.quadrant, "words": self.va.quadrant_words},
               "calibrated": self.calibrated, "ranking": self.scores.ranking(),
               "notices": list(self.notices)}
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
