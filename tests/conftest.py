"""Shared fixtures: the real data directory, real clips, and one real pipeline per session."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from emoalign.datasets import data_root

REPO = Path(__file__).resolve().parent.parent
DATA = data_root()  # $EMOALIGN_DATA, else ../shared/data


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA / "emotify" / "tracks.csv").is_file():
        pytest.skip(f"real data not found at {DATA} (set EMOALIGN_DATA)")
    return DATA


@pytest.fixture(scope="session")
def emotify_tracks(data_dir) -> dict[str, dict]:
    """Emotify tracks.csv rows keyed by track id ('001'...)."""
    with open(data_dir / "emotify" / "tracks.csv") as f:
        return {f"{int(r['track_id']):03d}": r for r in csv.DictReader(f)}


@pytest.fixture(scope="session")
def clip(data_dir):
    """Path of a real Emotify clip by track id."""
    return lambda track: data_dir / "emotify" / "audio" / f"{track}.ogg"


@pytest.fixture(scope="session")
def pipeline():
    from emoalign import EmotionPipeline
    return EmotionPipeline(device="cpu")


@pytest.fixture(scope="session")
def text_encoder():
    from emoalign.text import TextEncoder
    return TextEncoder()


def tone(freq: float, seconds: float, sr: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def labelled_folder(root: Path, data_dir: Path, n: int) -> tuple[Path, Path]:
    """A folder of `n` real Emotify clips (symlinks, spread over the four genres) and a CSV of
    their real labels (the top-3 GEMS by vote), as a user would bring: columns "path" and
    "emotions" ('|'-separated, capitalised), no split column. Returns (folder, CSV path)."""
    from emoalign.labels import load_label_set
    from emoalign.datasets import ground_truth, load_tracks

    emotify = load_tracks("emotify", data_dir)
    gems = list(load_label_set("gems").labels)
    truth = ground_truth(emotify, "gems", gems)
    (root / "clips").mkdir(parents=True)
    rows = []
    for i in range(0, len(emotify.ids), len(emotify.ids) // n)[:n]:
        name = f"clips/{emotify.paths[i].name}"
        (root / name).symlink_to(emotify.paths[i])
        rows.append({"path": name,
                     "emotions": " | ".join(l.title() for l, t in zip(gems, truth[i]) if t)})
    labels_csv = root / "labels.csv"
    with open(labels_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "emotions"])
        writer.writeheader()
        writer.writerows(rows)
    return root, labels_csv
