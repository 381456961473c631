"""One fixed colour per emotion word, the same in every figure and card of the app.

The GEMS-9 categories and the four quadrants have hand-picked colours (readable on light and
dark backgrounds); any other word gets one from a palette by a stable hash of its text, so it
keeps its colour across sessions and processes.
"""

from __future__ import annotations

import zlib

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#8cd17d", "#86bcb6", "#f1ce63", "#d37295", "#a0cbe8",
           "#ffbe7d", "#499894", "#d4a6c8", "#fabfd2", "#b6992d", "#79706e")
FIXED = {
    # GEMS-9 (Emotify)
    "amazement": "#edc948", "solemnity": "#9c755f", "tenderness": "#ff9da7",
    "nostalgia": "#b07aa1", "calmness": "#76b7b2", "power": "#e15759",
    "joyful activation": "#f28e2b", "tension": "#8c2d04", "sadness": "#4e79a7",
    # Russell quadrants, and the words of the valence/arousal plane
    "happy, energetic": "#f28e2b", "angry, tense": "#e15759", "sad, melancholic": "#4e79a7",
    "calm, peaceful": "#59a14f", "neutral / mixed": "#8a8a8a", "not music": "#8a8a8a",
}
QUADRANT_COLOURS = {0: FIXED["neutral / mixed"], 1: FIXED["happy, energetic"],
                    2: FIXED["angry, tense"], 3: FIXED["sad, melancholic"], 4: FIXED["calm, peaceful"]}


def emotion_colour(word: str) -> str:
    """The colour of `word` (case-insensitive), e.g. '#ff9da7' for 'tenderness'."""
    key = " ".join(word.lower().split())
    if key in FIXED:
        return FIXED[key]
    return PALETTE[zlib.crc32(key.encode("utf-8")) % len(PALETTE)]
