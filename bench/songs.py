"""Real audio for the benchmarks: the datasets' clips when they are there ($EMOALIGN_DATA or
../shared/data), the bundled examples (assets/examples, 30 s each) otherwise, so every
benchmark runs on a fresh clone. Each benchmark prints which it used."""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "assets" / "examples"


def clips(dataset: str, n: int | None = None, step: int = 1) -> tuple[list[Path], str]:
    """(up to `n` audio files of `dataset` ("emotify", "4q", "memomusic"), every `step`-th;
    what they are, in words). Falls back to the bundled examples when the dataset is absent."""
    from emoalign.paths import data_root
    found = sorted((data_root() / dataset / "audio").glob("*.ogg"))[::step][:n]
    if found:
        return found, f"{dataset} clips"
    return sorted(EXAMPLES.glob("*.ogg"))[:n], f"bundled examples (no {dataset} data)"


def joined_song(seconds: float, sr: int) -> tuple[np.ndarray, str]:
    """A real mono song of `seconds` at `sr`: Emotify clips spread over its genres joined (the
    bundled examples without Emotify), repeated as needed; and what it is made of."""
    from emoalign.audio.load import load_audio
    paths, what = clips("emotify", step=37)
    parts, total = [], 0
    while total < seconds * sr:
        for path in paths:
            parts.append(load_audio(path, sr))
            total += len(parts[-1])
            if total >= seconds * sr:
                break
    return np.concatenate(parts)[: int(seconds * sr)], what
