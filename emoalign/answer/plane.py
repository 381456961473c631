"""Words on the valence/arousal plane, and word scores that agree with the song's reading.

Every word, built-in or typed, gets a place on the plane from its text embedding: the
similarity-weighted mean of the places of the anchor words nearest to it (`ANCHORS`, words
with known places on Russell's circumplex). Its `affect` (0..1) says how sure that place is:
1 for a word as close to an anchor as a synonym, 0 for a word like "film" that is near no
emotion word. Theme and usage tags are not emotions and get affect 0.

A word's score blends two numbers in [0, 1] (`blend`):
- the calibrated cosine: the share of the reference songs whose cosine with the word is
  lower than this song's (calibration.py);
- the agreement between the word's place and the song's valence/arousal reading,
  exp(-distance^2 / (2 * AGREEMENT_WIDTH^2)): 1 when the word sits where the song was read.
score = (1 - w) * calibrated + w * agreement, with w = PLANE_WEIGHT * affect. So a word far
from any emotion is scored by its cosine alone, and for an emotion word the reading and the
words on one card cannot contradict each other for long. The weights were chosen by
bench/bench_answer.py (held-out Emotify GEMS top-3 F1 may not drop by more than 0.02).
"""

from __future__ import annotations

import numpy as np

from .valence_arousal import CIRCUMPLEX

# Anchor words and their places (valence, arousal) in [-1, 1], hand-placed after the angles of
# Russell (1980) and Scherer (2005), rounded to 0.1: the circumplex words that also label the
# valence/arousal datasets for training (valence_arousal.CIRCUMPLEX), and more, so that typed
# words find a near neighbour.
ANCHORS = {
    **CIRCUMPLEX,
    "furious": (-0.8, 0.8), "scared": (-0.7, 0.6), "nervous": (-0.5, 0.5),
    "hostile": (-0.8, 0.6), "bored": (-0.4, -0.6), "sleepy": (0.1, -0.9),
    "content": (0.7, -0.3), "hopeful": (0.6, 0.2), "nostalgic": (0.0, -0.4),
    "romantic": (0.7, 0.0), "playful": (0.7, 0.5), "uplifting": (0.7, 0.5),
    "solemn": (-0.2, -0.4), "epic": (0.3, 0.8), "gentle": (0.6, -0.6),
    "bittersweet": (-0.1, -0.3), "miserable": (-0.9, -0.3), "ecstatic": (0.8, 0.9),
}
PLACE_TEMPERATURE = 0.05  # softmax temperature over anchor cosines (leave-one-out error 0.48)
AFFECT_RANGE = (0.45, 0.75)  # best anchor cosine -> affect 0 .. 1
PLANE_WEIGHT = 0.5  # the largest share the plane takes in a word's score
AGREEMENT_WIDTH = 0.5  # distance on the plane at which agreement falls to exp(-1/2)



def place_words(word_embeddings: np.ndarray, anchor_embeddings: np.ndarray,
                anchor_places: np.ndarray, temperature: float = PLACE_TEMPERATURE
                ) -> tuple[np.ndarray, np.ndarray]:
    """(W, 384) unit word vectors -> (W, 2) places (valence, arousal) and (W,) affect in [0, 1].
    `anchor_embeddings` (A, 384) and `anchor_places` (A, 2) are the anchors'."""
    similarity = np.asarray(word_embeddings, np.float64) @ np.asarray(anchor_embeddings, np.float64).T
    best = similarity.max(axis=1, keepdims=True)
    weights = np.exp((similarity - best) / temperature)
    weights /= weights.sum(axis=1, keepdims=True)
    lo, hi = AFFECT_RANGE
    affect = np.clip((best[:, 0] - lo) / (hi - lo), 0.0, 1.0)
    return weights @ np.asarray(anchor_places, np.float64), affect


def agreement(song_va: np.ndarray, places: np.ndarray, width: float = AGREEMENT_WIDTH) -> np.ndarray:
    """(..., 2) readings and (W, 2) word places -> (..., W) in [0, 1]: 1 where they coincide."""
    song_va = np.asarray(song_va, np.float64)
    d2 = ((song_va[..., None, :] - places) ** 2).sum(axis=-1)
    return np.exp(-d2 / (2 * width ** 2))


def blend(calibrated: np.ndarray, agree: np.ndarray, affect: np.ndarray,
          weight: float = PLANE_WEIGHT) -> np.ndarray:
    """(..., W) calibrated scores and agreements, (W,) affect -> (..., W) scores in [0, 1]."""
    w = weight * np.asarray(affect, np.float64)
    return (1.0 - w) * np.asarray(calibrated, np.float64) + w * agree
