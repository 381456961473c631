"""Valence and arousal: a head over encoder and tonal features, or pole words.

Two experts read valence, and neither holds every kind of music
(../shared/docs/encoder-measurements.md): the encoder's features (musicnn) follow listeners
on band recordings but their valence direction does not carry from one piano collection to
another; mode and key (audio/tonal.py) carry across piano collections but are weak on recordings.
So valence mixes the two experts, each put on one scale first, with the tonal expert's share
set by a gate that hears whether the song is solo piano (`VAHead`); arousal comes from the
encoder, which carries it everywhere. Every dataset the product uses is fitted on, with
Emotify's listeners' GEMS votes read as valence/arousal (`gems_valence_arousal`).

Raw outputs are unitless; calibration.py reads them against the reference corpus and maps
them to [-1, 1]. The pole words are the head-free alternative (any adapter, any encoder).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..audio.tonal import TONAL_FEATURES

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
GATED = "gated"
VA_MODES = (GATED, "fused", "tonal", "encoder", "concat")
PRODUCT_MODE = GATED  # the head the product ships: bench/bench_answer.py chose it
# The tonal expert's share of valence for a song the gate hears as not solo piano, and as solo
# piano. Tonal features (mode, key) carry valence across piano collections, the encoder's do
# not; on band recordings the encoder's carry it better (bench/bench_answer.py; the
# measurements in ../shared/docs/encoder-measurements.md).
TONAL_SHARE = {GATED: (0.5, 0.7), "fused": (0.5, 0.5), "tonal": (1.0, 1.0),
               "encoder": (0.0, 0.0), "concat": (0.0, 0.0)}
GATE_C = 0.01  # inverse regularisation of the piano gate
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


# Emotify has no valence/arousal ratings, but ~40 listeners per track each chose a few GEMS
# words. The share of all votes that went to clearly pleasant words minus the share that went
# to clearly unpleasant ones reads as valence; energetic minus quiet words as arousal. Words
# whose sign is unclear (nostalgia is bittersweet, solemnity and power can be either) are
# left out of valence. Defined once here; the head is fitted on it and bench/bench_answer.py
# scores it (with Emotify held out).
GEMS_VALENCE = (("joyful_activation", "amazement", "tenderness", "calmness"),
                ("sadness", "tension"))
GEMS_AROUSAL = (("power", "joyful_activation", "tension", "amazement"),
                ("calmness", "tenderness", "sadness", "nostalgia"))


def gems_valence_arousal(votes: dict[str, float]) -> tuple[float, float]:
    """Emotify's vote counts of one track (GEMS label -> listeners who chose it) -> (valence,
    arousal) in [-1, 1]: (votes for the positive words - votes for the negative ones) / all
    votes (each listener chose several words)."""
    total = max(sum(float(v) for v in votes.values()), 1.0)

    def side(pair):
        return (sum(float(votes[w]) for w in pair[0]) - sum(float(votes[w]) for w in pair[1])) / total
    return side(GEMS_VALENCE), side(GEMS_AROUSAL)


QUADRANT_WORDS = {1: "happy, energetic", 2: "angry, tense", 3: "sad, melancholic", 4: "calm, peaceful"}
# The badge and the "quadrants" vocabulary (assets/labels/quadrants.json) use the same phrases.


@dataclass
class VAHead:
    """Valence and arousal from [encoder features, tonal features] (standardised, `z`):

        valence = (1 - share) * z @ weight[0] + share * z @ weight[1]     (two experts)
        arousal = z @ weight[2]
        share   = tonal_share[0] + (tonal_share[1] - tonal_share[0]) * p(solo piano)

    weight[0] is the encoder's valence expert and weight[1] the tonal one, each scaled to unit
    spread on the songs it was fitted on, so the two are on one scale before they are mixed.
    p(solo piano) is a logistic gate on the song's mean encoder features (`gate`: weights
    then bias), one value per song, so every segment of a song mixes the experts alike."""
    mean: np.ndarray  # (D + T,)
    scale: np.ndarray  # (D + T,)
    weight: np.ndarray  # (3, D + T)
    bias: np.ndarray  # (2,) valence, arousal
    n_tonal: int
    mode: str = GATED
    gate: np.ndarray | None = None  # (D + 1,) logistic weights over z[:D], then the bias
    tonal_share: np.ndarray | None = None  # (2,) the tonal expert's share for p = 0 and p = 1

    @property
    def n_encoder(self) -> int:
        return len(self.mean) - self.n_tonal

    def piano_probability(self, features: np.ndarray) -> float:
        """(S, D) encoder features of one song -> p(solo piano) from their mean."""
        if self.gate is None or not self.gate.any():
            return 0.0
        z = (np.asarray(features).mean(axis=0) - self.mean[:self.n_encoder]) / self.scale[:self.n_encoder]
        return float(1.0 / (1.0 + np.exp(-(z @ self.gate[:-1] + self.gate[-1]))))

    def predict(self, features: np.ndarray, tonal: np.ndarray) -> np.ndarray:
        """(S, D) encoder and (S, T) tonal features OF ONE SONG -> (S, 2) raw valence, arousal."""
        x = np.hstack([features, tonal]) if self.n_tonal else np.asarray(features)
        parts = ((x - self.mean) / self.scale) @ self.weight.T
        share = self.tonal_share if self.tonal_share is not None else np.zeros(2)
        s = share[0] + (share[1] - share[0]) * self.piano_probability(features)
        return np.stack([(1 - s) * parts[:, 0] + s * parts[:, 1], parts[:, 2]], axis=1) + self.bias

    def song_values(self, features: np.ndarray, tonal: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Many songs (rows offsets[i]:offsets[i+1]) -> (N, 2) song means of `predict`."""
        return np.stack([self.predict(features[a:b], tonal[a:b]).mean(axis=0)
                         for a, b in zip(offsets[:-1], offsets[1:])])

    def tensors(self) -> dict[str, np.ndarray]:
        gate = self.gate if self.gate is not None else np.zeros(self.n_encoder + 1)
        share = self.tonal_share if self.tonal_share is not None else np.zeros(2)
        return {"va_mean": self.mean.astype(np.float32), "va_scale": self.scale.astype(np.float32),
                "va_weight": self.weight.astype(np.float32), "va_bias": self.bias.astype(np.float32),
                "va_n_tonal": np.array([self.n_tonal], np.int64),
                "va_gate": gate.astype(np.float32), "va_tonal_share": share.astype(np.float32)}

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], mode: str = GATED) -> "VAHead":
        dims = tensors["va_mean"].shape
        n_tonal = int(tensors["va_n_tonal"][0])
        if (tensors["va_weight"].shape != (3, *dims) or tensors["va_scale"].shape != dims
                or tensors["va_bias"].shape != (2,) or not 0 <= n_tonal <= dims[0]
                or tensors.get("va_gate", np.zeros(dims[0] - n_tonal + 1)).shape != (dims[0] - n_tonal + 1,)
                or tensors.get("va_tonal_share", np.zeros(2)).shape != (2,)):
            raise ValueError("valence/arousal head: inconsistent shapes")
        return cls(tensors["va_mean"], tensors["va_scale"], tensors["va_weight"],
                   tensors["va_bias"], n_tonal, mode, tensors.get("va_gate"),
                   tensors.get("va_tonal_share"))


def _ridge(x: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float) -> np.ndarray:
    """Weighted ridge on standardised x (no intercept: y is centred): (D,) coefficients."""
    xw = x * w[:, None]
    return np.linalg.solve(x.T @ xw + alpha * np.eye(x.shape[1]), xw.T @ y)


def fit_va_head(features: np.ndarray, tonal: np.ndarray, targets: np.ndarray,
                weights: np.ndarray, mode: str = GATED,
                alpha: dict[str, float] | None = None, valence_subset: bool = True,
                piano: np.ndarray | None = None) -> VAHead:
    """Fit on segments: (S, D) encoder, (S, T) tonal features, (S, 2) valence/arousal targets
    (NaN where unknown), (S,) sample weights (e.g. each dataset the same total). With the 16
    audio/tonal.py features and `valence_subset`, the tonal block uses only `VALENCE_TONAL`.
    `piano` (S,) bool marks solo-piano segments: the gate of mode "gated" learns to tell
    them from the rest (without it, "gated" mixes the experts like "fused")."""
    if mode not in VA_MODES:
        raise ValueError(f"mode must be one of {VA_MODES}, got {mode!r}")
    alpha = {**RIDGE_ALPHA, **(alpha or {})}
    x = np.hstack([features, tonal]).astype(np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    d = features.shape[1]
    tonal_cols = (np.arange(tonal.shape[1]) if tonal.shape[1] != len(TONAL_FEATURES) or not
                  valence_subset else np.array([TONAL_FEATURES.index(n) for n in VALENCE_TONAL]))
    blocks = {"encoder": np.arange(d), "tonal": d + tonal_cols, "concat": np.arange(x.shape[1])}
    rows = {"valence": ("concat" if mode == "concat" else "encoder", "tonal"),
            "arousal": ("concat" if mode == "concat" else "encoder",)}
    weight, bias = np.zeros((3, x.shape[1])), np.zeros(2)
    for j, target in enumerate(("valence", "arousal")):
        known = ~np.isnan(targets[:, j])
        y, w = targets[known, j], weights[known] / weights[known].sum()
        bias[j] = float(w @ y)
        for k, part in enumerate(rows[target]):
            if tonal.shape[1] == 0 and part == "tonal":
                continue
            cols = blocks[part]
            coef = _ridge(z[known][:, cols], y - bias[j], w, alpha.get(part, alpha["encoder"]))
            spread = np.sqrt(w @ (z[known][:, cols] @ coef) ** 2) + 1e-12
            weight[j + k if target == "valence" else 2, cols] = coef / spread
        bias[j] = 0.0  # outputs are read against the reference corpus, so only order matters
    share = np.array(TONAL_SHARE[mode] if tonal.shape[1] else (0.0, 0.0), float)
    gate = None
    if mode == GATED and piano is not None and 0 < np.sum(piano) < len(piano):
        gate = _fit_gate(z[:, :d], np.asarray(piano, bool), weights)
    elif mode == GATED:
        share = np.full(2, share.mean())
    return VAHead(mean.astype(np.float32), scale.astype(np.float32), weight.astype(np.float32),
                  bias.astype(np.float32), tonal.shape[1], mode, gate, share.astype(np.float32))


def _fit_gate(z: np.ndarray, piano: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Logistic p(solo piano) over standardised encoder features -> (D + 1,) weights, bias.
    Strongly regularised (GATE_C) and class-balanced: it should hear "piano alone", not
    learn the piano sets' other quirks."""
    from sklearn.linear_model import LogisticRegression

    w = np.where(piano, 0.5 / weights[piano].sum(), 0.5 / weights[~piano].sum()) * weights
    model = LogisticRegression(C=GATE_C, max_iter=2000).fit(z, piano, sample_weight=w * len(w))
    return np.concatenate([model.coef_[0], model.intercept_]).astype(np.float32)


def pole_scores(song_embeddings: np.ndarray, embed) -> np.ndarray:
    """(N, 384) song or segment embeddings -> (N, 2) raw valence, arousal from the pole words;
    `embed(words) -> (W, 384)` is the text model."""
    out = []
    for target in ("valence", "arousal"):
        positive, negative = POLES[target]
        pos, neg = embed(list(positive)).mean(axis=0), embed(list(negative)).mean(axis=0)
        out.append(song_embeddings @ (pos - neg))
    return np.stack(out, axis=-1)
