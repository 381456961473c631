"""How far an answer can be trusted: is this music at all, and is the reading near the centre.

- `MusicCheck`: a logistic model over a song's mean encoder and tonal features that tells the
  music the model knows (the reference corpus: 1,739 real songs) from audio that is not music
  (tones, noise, clicks, beeps, hum, speech: train/nonmusic.py). A song it reads as not music
  gets a plain notice and no confident card. Fitted by train/reference.py and stored with the
  reference corpus; its error rates on held-out clips are in bench/bench_answer.py.
- `NEUTRAL` readings: a reading whose distance from the centre of the valence/arousal plane is
  under the reference corpus's `neutral_radius` names no quadrant (quadrant 0, "neutral /
  mixed"): there the quadrant of held-out readings of the reference songs is right barely more
  often than chance (train/reference.py fits the radius: 0.4 for the shipped corpus, where held-out readings
  name the right quadrant for 30% of the songs, and about one song in eight falls inside).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .valence_arousal import quadrant_of

MUSIC_C = 0.01  # inverse regularisation: strong, so unseen kinds of non-music still stand out
MUSIC_THRESHOLD = 0.5  # p(music) under this reads as not music
DEFAULT_NEUTRAL_RADIUS = 0.2  # used when a reference corpus stores none
NEUTRAL_ACCURACY = 0.3  # readings this rarely right (chance: 0.25) are neutral
NEUTRAL_WORDS = "neutral / mixed"
NOT_MUSIC_NOTICE = ("This does not sound like music the model knows (it is closer to a tone, "
                    "noise, clicks or speech): the emotions below are not meaningful for it.")


@dataclass
class MusicCheck:
    """p(music) = sigmoid(((x - mean) / scale) @ weight + bias), x = [mean encoder features,
    mean tonal features] of a song's non-silent segments."""
    mean: np.ndarray  # (D + T,)
    scale: np.ndarray  # (D + T,)
    weight: np.ndarray  # (D + T,)
    bias: float

    def probability(self, features: np.ndarray, tonal: np.ndarray) -> float:
        """(S, D) encoder and (S, T) tonal features of one song -> p(music)."""
        x = np.concatenate([np.asarray(features).mean(axis=0), np.asarray(tonal).mean(axis=0)])
        if x.shape != self.mean.shape:
            raise ValueError(f"music check expects {self.mean.shape[0]} features, got {x.shape[0]}")
        z = (x - self.mean) / self.scale @ self.weight + self.bias
        return float(1.0 / (1.0 + np.exp(-np.clip(z, -60, 60))))

    def tensors(self) -> dict[str, np.ndarray]:
        return {"music_mean": self.mean.astype(np.float32), "music_scale": self.scale.astype(np.float32),
                "music_weight": self.weight.astype(np.float32),
                "music_bias": np.array([self.bias], np.float32)}

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray]) -> "MusicCheck | None":
        if "music_weight" not in tensors:
            return None
        mean, scale, weight = (tensors[k] for k in ("music_mean", "music_scale", "music_weight"))
        if not (mean.shape == scale.shape == weight.shape and mean.ndim == 1
                and tensors["music_bias"].shape == (1,)):
            raise ValueError("music check: inconsistent shapes")
        return cls(mean, scale, weight, float(tensors["music_bias"][0]))


def song_inputs(features: np.ndarray, tonal: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Many songs' segments (rows offsets[i]:offsets[i+1]) -> (N, D + T) per-song means."""
    x = np.hstack([features, tonal]).astype(np.float64)
    return np.add.reduceat(x, offsets[:-1], axis=0) / np.diff(offsets)[:, None]


def fit_music_check(music: np.ndarray, not_music: np.ndarray, music_weights: np.ndarray | None = None,
                    c: float = MUSIC_C) -> MusicCheck:
    """(N, D + T) songs of the reference corpus and (M, D + T) clips that are not music (song
    means of `song_inputs`) -> the check. Both classes weigh the same; `music_weights` (e.g.
    each collection the same share) weigh the songs."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([music, not_music])
    y = np.r_[np.ones(len(music), bool), np.zeros(len(not_music), bool)]
    mw = np.full(len(music), 1.0 / len(music)) if music_weights is None else music_weights / music_weights.sum()
    w = np.r_[0.5 * mw, np.full(len(not_music), 0.5 / len(not_music))] * len(x)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, max_iter=5000).fit((x - mean) / scale, y, sample_weight=w)
    return MusicCheck(mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0]))


def is_neutral(valence: float, arousal: float, radius: float) -> bool:
    """Whether a reading is too near the centre to name a quadrant."""
    return float(np.hypot(valence, arousal)) < radius


def reading_quadrant(valence: float, arousal: float, radius: float) -> int:
    """Russell quadrant 1..4 of a reading; 0 inside the neutral band."""
    return 0 if is_neutral(valence, arousal, radius) else int(quadrant_of(valence, arousal))


def fit_neutral_radius(readings: np.ndarray, quadrants: np.ndarray, weights: np.ndarray,
                       accuracy: float = NEUTRAL_ACCURACY, step: float = 0.05) -> float:
    """(N, 2) held-out readings of songs with known quadrants (1..4) and their weights -> the
    largest radius (in `step`s) within which the reading's quadrant is right for at most
    `accuracy` of the songs (chance is 0.25): where naming a quadrant says next to nothing."""
    right = quadrant_of(readings[:, 0], readings[:, 1]) == quadrants
    distance = np.hypot(readings[:, 0], readings[:, 1])
    radius = 0.0
    for r in np.arange(step, 1.0 + 1e-9, step):
        inside = distance < r
        if inside.any() and weights[inside] @ right[inside] / weights[inside].sum() <= accuracy:
            radius = float(r)
    return round(radius, 2)
