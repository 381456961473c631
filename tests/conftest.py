"""Shared fixtures: real audio, real models, one real pipeline per session.

Most tests need no dataset: they use the licensed clips bundled in assets/examples (see its
ATTRIBUTION.md) and audio they generate. The few that check a dataset's own labels or files
ask for it with `dataset_dir(name, why)`, which skips with one reason naming the dataset and
where to get it; point EMOALIGN_DATA at the folder holding the datasets (default
../shared/data beside the repository).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emoalign.paths import data_root

REPO = Path(__file__).resolve().parent.parent
DATA = data_root()  # $EMOALIGN_DATA, else ../shared/data
EXAMPLES = REPO / "assets" / "examples"
CALM_SONG = EXAMPLES / "openclonk_offshore.ogg"  # relaxed jazz-pop, "calm, peaceful", 30 s
LIVELY_SONG = EXAMPLES / "etr_credits.ogg"  # upbeat electronic, "happy, energetic", 30 s
# GEMS-9 labels for the bundled examples, judged from examples.json's intended moods: what a
# "folder with a labels CSV" test brings (not listener ratings)
EXAMPLE_GEMS = {
    "etr_credits.ogg": ("joyful activation", "power", "amazement"),
    "openclonk_offshore.ogg": ("calmness", "tenderness", "joyful activation"),
    "wesnoth_sad.ogg": ("sadness", "nostalgia", "tenderness"),
    "warzone_nuclear_heartbeat.ogg": ("tension", "power", "solemnity"),
    "wesnoth_return_to_wesnoth.ogg": ("joyful activation", "amazement", "power"),
    "wesnoth_love_theme.ogg": ("tenderness", "calmness", "nostalgia"),
}
# where each dataset comes from (its official page), for skip reasons
DATASET_PAGES = {
    "emotify": "Emotify (https://www2.projects.science.uu.nl/memotion/emotifydata/)",
    "4q": "4Q Audio Emotion Dataset (http://mir.dei.uc.pt/downloads.html)",
    "vgmidi": "VGMIDI (https://github.com/lucasnfe/vgmidi)",
    "memomusic": "MemoMusic (https://github.com/MZhexin/MemoMusic-Dataset)",
}
DATASET_FILES = {"emotify": "tracks.csv", "4q": "metadata.csv", "vgmidi": "pieces.csv",
                 "memomusic": "pieces.csv"}


def dataset_dir(name: str, why: str) -> Path:
    """The data root when dataset `name` is there; otherwise skip, naming it and why."""
    if not (DATA / name / DATASET_FILES[name]).is_file():
        pytest.skip(f"needs the {DATASET_PAGES[name]} dataset at {DATA / name} ({why}); "
                    "set EMOALIGN_DATA, see docs/data.md")
    return DATA


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The data root, for tests that check the datasets' own files (Emotify is the marker)."""
    return dataset_dir("emotify", "checks the dataset's own files and labels")


@pytest.fixture(scope="session")
def emotify_tracks() -> dict[str, dict]:
    """Emotify tracks.csv rows keyed by track id ('001'...)."""
    root = dataset_dir("emotify", "uses its listeners' votes")
    with open(root / "emotify" / "tracks.csv") as f:
        return {f"{int(r['track_id']):03d}": r for r in csv.DictReader(f)}


@pytest.fixture(scope="session")
def clip():
    """clip(track, why): path of a real Emotify clip by track id, for tests about Emotify's
    own clips and labels (skipped without Emotify, saying `why`)."""
    def path(track: str, why: str = "compares with its listeners' labels") -> Path:
        return dataset_dir("emotify", why) / "emotify" / "audio" / f"{track}.ogg"
    return path


def write_ogg(path: Path, audio: np.ndarray, sr: int) -> Path:
    """Write OGG/Vorbis in blocks (libsndfile's Vorbis writer crashes on a minute at once)."""
    with sf.SoundFile(path, "w", sr, audio.shape[1] if audio.ndim == 2 else 1,
                      format="OGG") as f:
        for start in range(0, len(audio), 1 << 15):
            f.write(audio[start:start + (1 << 15)])
    return path


@pytest.fixture(scope="session")
def long_song(tmp_path_factory) -> Path:
    """A 60-s song (six segments): two bundled examples back to back, calm then lively,
    44.1 kHz stereo OGG/Vorbis."""
    calm, sr = sf.read(CALM_SONG, dtype="float32", always_2d=True)
    lively, _ = sf.read(LIVELY_SONG, dtype="float32", always_2d=True)
    return write_ogg(tmp_path_factory.mktemp("long") / "calm-then-lively.ogg",
                     np.concatenate([calm, lively]), sr)


@pytest.fixture(scope="session")
def pipeline():
    from emoalign import EmotionPipeline
    return EmotionPipeline(device="cpu")


@pytest.fixture(scope="session")
def text_encoder():
    from emoalign.text.encoder import TextEncoder
    return TextEncoder()


def tone(freq: float, seconds: float, sr: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def example_clips(folder: Path, n: int) -> list[tuple[Path, tuple]]:
    """`n` distinct clips cut from the bundled examples (each 30-s file cut into ceil(n / 6)
    equal parts, taken round robin over the six files), written as OGG/Vorbis into `folder`,
    with each clip's GEMS labels (EXAMPLE_GEMS). Returns [(path, labels)]."""
    examples = sorted(EXAMPLE_GEMS)
    parts = -(-n // len(examples))
    folder.mkdir(parents=True, exist_ok=True)
    clips, cache = [], {}
    for i in range(n):
        name, part = examples[i % len(examples)], i // len(examples)
        if name not in cache:
            cache[name] = sf.read(EXAMPLES / name, dtype="float32", always_2d=True)
        audio, sr = cache[name]
        length = len(audio) // parts
        path = write_ogg(folder / f"{Path(name).stem.replace('_', '-')}-{part}.ogg",
                         audio[part * length:(part + 1) * length], sr)
        clips.append((path, EXAMPLE_GEMS[name]))
    return clips


def labelled_folder(root: Path, n: int) -> tuple[Path, Path]:
    """A folder of `n` clips cut from the bundled examples and a CSV of their labels (three
    GEMS words each), as a user would bring: columns "path" and "emotions" ('|'-separated,
    capitalised), no split column. Returns (folder, CSV path)."""
    clips = example_clips(root / "clips", n)
    labels_csv = root / "labels.csv"
    with open(labels_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "emotions"])
        writer.writeheader()
        writer.writerows({"path": f"clips/{path.name}",
                          "emotions": " | ".join(l.title() for l in labels)}
                         for path, labels in clips)
    return root, labels_csv


def indexed_library(root: Path, songs: dict[str, Path], pipe=None) -> Path:
    """A real library at root/library.db: `songs` (path relative to the folder -> audio) linked
    under root/music and indexed with `pipe`, by default the app's own model (so the spaces
    match the app's)."""
    from emoalign.library.indexing import index_folder
    from emoalign.library.store import Library

    if pipe is None:
        from emoalign.web.config import MODELS
        from emoalign.web.models import ModelChoice
        pipe = MODELS.get(ModelChoice())
    for name, song in songs.items():
        (root / "music" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "music" / name).symlink_to(song)
    path = root / "library.db"
    with Library(path) as library:
        report = index_folder(root / "music", library, pipe, progress=False)
    assert report.added == len(songs), report
    return path


@pytest.fixture(scope="session")
def calm_copy(tmp_path_factory) -> Path:
    """The calm example decoded and written again as FLAC under another name: the same music
    as a bundled example, but not its file (so it is not recognised as the example)."""
    audio, sr = sf.read(CALM_SONG, dtype="float32")
    path = tmp_path_factory.mktemp("copy") / "offshore-copy.flac"
    sf.write(path, audio, sr)
    return path
