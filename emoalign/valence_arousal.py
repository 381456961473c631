"""Valence and arousal: a linear head over encoder and tonal features, or pole words.

Why two inputs: musicnn features carry arousal across music styles, but the valence direction
they learn on one collection does not carry to another; mode and key (tonal.py) do
(../shared/docs/encoder-measurements.md). So the head fits valence on the tonal features and on
the encoder features separately and averages the two standardised predictions (late fusion, so
16 tonal numbers are not drowned by 250 encoder dimensions); arousal comes from the encoder.
The fused map is still linear and is stored as one weight matrix.

Raw outputs are unitless; calibration.py reads them against the reference corpus and maps
them to [-1, 1]. The pole words are the head-free alternative (any adapter, any encoder).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tonal import TONAL_FEATURES

# Words placed on Russell's circumplex (valence, arousal) in [-1, 1]: hand-placed after the
# angles in Russell (1980) and Scherer (2005), rounded to 0.1. They label the valence/arousal
# datasets in the word space (the k nearest words of a song's (v, a) are its positives).
CIRCUMPLEX = {
    "excited": (0.5, 0.9), "energetic": (0.4, 0.8), "happy": (0.8, 0.4), "joyful": (0.8, 0.5),
    "cheerful": (0.8, 0.3), "triumphant": (0.6, 0.7),
    "angry": (-0.7, 0.8), "aggressive": (-0.6, 0.9), "tense": (-0.5, 0.6),
    "anxious": (-0.6, 0.5), "fearful": (-0.7, 0.6), "dark": (-0.5, 0.2),
    "sad": (-0.8, -0.4), "melancholic": (-0.6, -0.5), "gloomy": (-0.6, -0.3),
    "depressed": (-0.8, -0.6), "lonely": (-0.6, -0.6), "tired": (-0.2, -0.9),
    "calm": (0.4, -0.8), "peaceful": (0.6, -0.7), "relaxed": (0.6, -0.6),
    "serene": (0.6, -0.8), "tender": (0.7, -0.3), "dreamy": (0.3, -0.6),
}
CIRCUMPLEX_K = 3  # positives per song: its nearest circumplex words

# Pole words: raw valence = cos(song, positive pole) - cos(song, negative pole), likewise arousal.
POLES = {
    "valence": (("happy", "joyful", "cheerful"), ("sad", "gloomy", "melancholic")),
    "arousal": (("energetic", "intense", "exciting"), ("calm", "relaxed", "soothing")),
}
VA_MODES = ("fused", "tonal", "encoder", "concat")
PRODUCT_MODE = "tonal"  # the head the product ships: best held-out quadrant F1 (train.generalisation)
RIDGE_ALPHA = {"encoder": 30.0, "tonal": 10.0}  # chosen by train.generalisation (30 beat 100-3000)
# The tonal features valence is read from: pitch and rhythm. Loudness and spectral shape
# (rms_db, dynamic_range_db, centroid, brightness, flatness) describe the recording or the
# MIDI renderer more than the music, and did not transfer to held-out collections
# (results/generalisation.md: `tonal` vs `tonal-all16`).
VALENCE_TONAL = tuple(n for n in TONAL_FEATURES if n not in
                      ("rms_db", "dynamic_range_db", "centroid", "brightness", "flatness"))


def circumplex_positives(valence: float, arousal: float, k: int = CIRCUMPLEX_K) -> list[str]:
    """The k circumplex words nearest in angle to a (valence, arousal) point. By angle, not
    distance: the datasets' means sit near the origin, where distances say little."""
    words = list(CIRCUMPLEX)
    where = np.array([CIRCUMPLEX[w] for w in words])
    where /= np.linalg.norm(where, axis=1, keepdims=True)
    point = np.array([valence, arousal], float)
    point /= max(np.linalg.norm(point), 1e-9)
    order = np.argsort(-(where @ point), kind="stable")
    return [words[i] for i in order[:k]]


def quadrant_of(valence: np.ndarray, arousal: np.ndarray) -> np.ndarray:
    """Russell quadrant 1..4 (Q1 +v+a, Q2 -v+a, Q3 -v-a, Q4 +v-a); 0 counts as positive."""
    v, a = np.asarray(valence) >= 0, np.asarray(arousal) >= 0
    return np.where(a, np.where(v, 1, 2), np.where(v, 4, 3))


QUADRANT_WORDS = {1: "happy, energetic", 2: "angry, tense", 3: "sad, low", 4: "calm, peaceful"}


@dataclass
class VAHead:
    """(valence, arousal) raw = [standardised encoder features, tonal features] @ weight.T + bias."""
    mean: np.ndarray  # (D + T,)
    scale: np.ndarray  # (D + T,)
    weight: np.ndarray  # (2, D + T)
    bias: np.ndarray  # (2,)
    n_tonal: int
    mode: str = "fused"

    def predict(self, features: np.ndarray, tonal: np.ndarray) -> np.ndarray:
        """(S, D) encoder and (S, T) tonal features -> (S, 2) raw valence, arousal."""
        x = np.hstack([features, tonal]) if self.n_tonal else np.asarray(features)
        return ((x - self.mean) / self.scale) @ self.weight.T + self.bias

    def tensors(self) -> dict[str, np.ndarray]:
        return {"va_mean": self.mean.astype(np.float32), "va_scale": self.scale.astype(np.float32),
                "va_weight": self.weight.astype(np.float32), "va_bias": self.bias.astype(np.float32),
                "va_n_tonal": np.array([self.n_tonal], np.int64)}

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], mode: str = "fused") -> "VAHead":
        dims = tensors["va_mean"].shape
        if tensors["va_weight"].shape != (2, *dims) or tensors["va_scale"].shape != dims:
            raise ValueError("valence/arousal head: inconsistent shapes")
        return cls(tensors["va_mean"], tensors["va_scale"], tensors["va_weight"],
                   tensors["va_bias"], int(tensors["va_n_tonal"][0]), mode)


def _ridge(x: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float) -> np.ndarray:
    """Weighted ridge on standardised x (no intercept: y is centred): (D,) coefficients."""
    xw = x * w[:, None]
    return np.linalg.solve(x.T @ xw + alpha * np.eye(x.shape[1]), xw.T @ y)


def fit_va_head(features: np.ndarray, tonal: np.ndarray, targets: np.ndarray,
                weights: np.ndarray, mode: str = "fused",
                alpha: dict[str, float] | None = None, valence_subset: bool = True) -> VAHead:
    """Fit on segments: (S, D) encoder, (S, T) tonal features, (S, 2) valence/arousal targets
    (NaN where unknown), (S,) sample weights (e.g. each dataset the same total). With the 16
    tonal.py features and `valence_subset`, the tonal block uses only `VALENCE_TONAL`."""
    if mode not in VA_MODES:
        raise ValueError(f"mode must be one of {VA_MODES}, got {mode!r}")
    alpha = {**RIDGE_ALPHA, **(alpha or {})}
    x = np.hstack([features, tonal]).astype(np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    d = features.shape[1]
    tonal_cols = (np.arange(tonal.shape[1]) if tonal.shape[1] != len(TONAL_FEATURES) or not
                  valence_subset else np.array([TONAL_FEATURES.index(n) for n in VALENCE_TONAL]))
    blocks = {"encoder": slice(0, d), "tonal": d + tonal_cols, "concat": slice(0, x.shape[1])}
    weight, bias = np.zeros((2, x.shape[1])), np.zeros(2)
    for j, target in enumerate(("valence", "arousal")):
        known = ~np.isnan(targets[:, j])
        y, w = targets[known, j], weights[known] / weights[known].sum()
        centre = float(w @ y)
        parts = {"valence": {"fused": ("tonal", "encoder"), "tonal": ("tonal",),
                             "encoder": ("encoder",), "concat": ("concat",)},
                 "arousal": {"fused": ("encoder",), "tonal": ("encoder",),
                             "encoder": ("encoder",), "concat": ("concat",)}}[target][mode]
        for part in parts:
            cols = blocks[part]
            coef = _ridge(z[known][:, cols], y - centre, w, alpha.get(part, alpha["encoder"]))
            spread = np.sqrt(w @ (z[known][:, cols] @ coef) ** 2) + 1e-12
            weight[j, cols] += coef / spread / len(parts)  # each part standardised, then averaged
    return VAHead(mean.astype(np.float32), scale.astype(np.float32), weight.astype(np.float32),
                  bias.astype(np.float32), tonal.shape[1], mode)


def pole_scores(song_embeddings: np.ndarray, embed) -> np.ndarray:
    """(N, 384) song or segment embeddings -> (N, 2) raw valence, arousal from the pole words;
    `embed(words) -> (W, 384)` is the text model."""
    out = []
    for target in ("valence", "arousal"):
        positive, negative = POLES[target]
        pos, neg = embed(list(positive)).mean(axis=0), embed(list(negative)).mean(axis=0)
        out.append(song_embeddings @ (pos - neg))
    return np.stack(out, axis=-1)
