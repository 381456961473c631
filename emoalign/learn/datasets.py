"""The datasets and their ground truth.

- `DATASETS`: "emotify" (GEMS-9, positives = top-3 labels by vote, ties by column order) and
  "4q" (AllMusic mood tags restricted to the "allmusic" label set; Russell quadrant for the
  "quadrants" label set). Both use their fixed train / validation / test splits.
- The solo-piano sets, rendered (piano.py, train/render.py): "vgmidi@<soundfont>" and
  "memomusic@<soundfont>" for each of `piano.SOUNDFONTS`, plus "memomusic@audio" (its 61 real
  recordings). They have valence/arousal, not words: their own label set is "circumplex" (the
  nearest circumplex words of their valence/arousal, see answer/valence_arousal.py), and "quadrants"
  comes from the signs. `valence_arousal` gives every dataset's (valence, arousal) in [-1, 1].
- `folders.folder_dataset` turns any folder of audio plus a CSV of labels into the same
  `Tracks`, with its own vocabulary; everything downstream (features, training, evaluation)
  accepts either.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from ..answer.valence_arousal import (CIRCUMPLEX, circumplex_positives, gems_valence_arousal,
                                      quadrant_of)
from ..paths import data_root
from ..text.labels import load_label_set
from . import piano
from .piano import PIANO_DATASETS, SOUNDFONTS

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    label_set: str  # the dataset's own vocabulary (trained on)
    k: int  # top-k for its own labels (the mean number of positives per song)
    extra_label_sets: tuple[str, ...] = ()  # other label sets it can be scored on
    vocabulary: tuple[str, ...] = ()  # a folder dataset's own labels; () for built-in label sets
    source: str = "fixed splits of ../shared/data (see its README)"
    family: str = ""  # the collection a rendered variant belongs to ("vgmidi@fluidr3" -> "vgmidi")

    @property
    def collection(self) -> str:
        return self.family or self.name

    @property
    def label_sets(self) -> tuple[str, ...]:
        return (self.label_set, *self.extra_label_sets)

    def labels(self, label_set: str | None = None) -> list[str]:
        """The label strings of one of its label sets (default: its own)."""
        label_set = label_set or self.label_set
        if self.vocabulary and label_set == self.label_set:
            return list(self.vocabulary)
        return label_strings(label_set)

    def top_k(self, label_set: str) -> int:
        return self.k if label_set == self.label_set else LABEL_SET_K.get(label_set, 3)


PIANO_VARIANTS = (*SOUNDFONTS, "audio")  # the renders, and real recordings
DATASETS = {
    "emotify": DatasetSpec("emotify", "gems", 3),
    "4q": DatasetSpec("4q", "allmusic", 6, ("quadrants",)),
    **{f"{family}@{variant}": DatasetSpec(f"{family}@{variant}", "circumplex", 3, ("quadrants",),
                                          family=family)
       for family in PIANO_DATASETS for variant in PIANO_VARIANTS
       if (family, variant) != ("vgmidi", "audio")},
}
# what a visitor reads for each dataset (dataset_title adds how many tracks it has)
COLLECTION_TITLES = {"emotify": "Emotify, GEMS-9 emotions",
                     "4q": "4Q, AllMusic moods and Russell quadrants",
                     "vgmidi": "VGMIDI game-music piano", "memomusic": "MemoMusic piano"}
VARIANT_TITLES = {"fluidr3": "FluidR3 render", "musescore": "MuseScore render",
                  "timgm": "TimGM6mb render", "audio": "recordings"}
LABEL_SET_K = {"gems": 3, "allmusic": 6, "quadrants": 1, "circumplex": 3}
CUSTOM_PREFIX = "custom-"  # names of folder datasets: custom-<hash of the folder and CSV paths>
_EMOTIFY_COLUMNS = ("amazement", "solemnity", "tenderness", "nostalgia", "calmness", "power",
                    "joyful_activation", "tension", "sadness")


def available_datasets(root: str | Path | None = None) -> list[str]:
    """The shipped datasets whose audio is there: emotify and 4q when their folder is in the
    data directory, a piano set's rendered variants once train/render.py has made them."""
    root = Path(root or data_root())
    out = []
    for name, spec in DATASETS.items():
        if not (root / spec.collection).is_dir():
            continue
        variant = name.partition("@")[2]
        if variant and variant != "audio":
            if not (piano.renders_root() / variant / spec.collection).is_dir():
                continue
        out.append(name)
    return out


def dataset_title(name: str, root: str | Path | None = None) -> str:
    """A dataset in plain words with its size as found in the data directory:
    "VGMIDI game-music piano, FluidR3 render (200 pieces)", "Emotify, GEMS-9 emotions (400
    clips)"."""
    spec = DATASETS[name]
    n = len(load_tracks(name, root).ids)
    variant = name.partition("@")[2]
    title = COLLECTION_TITLES.get(spec.collection, spec.collection)
    if not variant:
        return f"{title} ({n} clips)"
    return f"{title}, {VARIANT_TITLES.get(variant, variant)} ({n} pieces)"


@dataclass
class Tracks:
    """The tracks of one dataset, in file order."""
    spec: DatasetSpec
    ids: list[str]
    paths: list[Path]
    splits: np.ndarray  # (T,) str
    rows: list[dict]  # the metadata rows (a folder dataset's: file, labels, split)

    @property
    def dataset(self) -> str:
        return self.spec.name

    def restrict(self, ids: Iterable[str]) -> "Tracks":
        """Only the tracks in `ids` (file order kept), e.g. those already in a feature cache."""
        keep = set(ids)
        idx = [i for i, t in enumerate(self.ids) if t in keep]
        return Tracks(self.spec, [self.ids[i] for i in idx], [self.paths[i] for i in idx],
                      self.splits[idx], [self.rows[i] for i in idx])

    def subset(self, split: str) -> np.ndarray:
        """Indices of the tracks in `split` ("train", "validation", "test" or "all")."""
        if split == "all":
            return np.arange(len(self.ids))
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS + ('all',)}, got {split!r}")
        return np.flatnonzero(self.splits == split)


def load_tracks(dataset: str, root: str | Path | None = None) -> Tracks:
    root = Path(root or data_root())
    if dataset in DATASETS and DATASETS[dataset].family:
        return _piano_tracks(DATASETS[dataset], root)
    if dataset == "emotify":
        table, id_column = root / "emotify" / "tracks.csv", "track_id"
    elif dataset == "4q":
        table, id_column = root / "4q" / "metadata.csv", "Song"
    else:
        raise ValueError(f"Unknown dataset {dataset!r}; available: {', '.join(DATASETS)}")
    if not table.is_file():
        raise FileNotFoundError(f"{table} not found; set EMOALIGN_DATA to the data directory")
    with open(table, newline="") as f:
        rows = list(csv.DictReader(f))
    return Tracks(DATASETS[dataset], [r[id_column] for r in rows],
                  [table.parent / r["file"] for r in rows], np.array([r["split"] for r in rows]),
                  rows)


def _piano_tracks(spec: DatasetSpec, root: Path) -> Tracks:
    """A rendered (or recorded) variant of a piano set; rows carry valence/arousal in [-1, 1]."""
    variant = spec.name.partition("@")[2]
    if spec.collection == "vgmidi":
        rows, measures = piano.vgmidi_pieces(root), piano.vgmidi_measures(root)
        for r in rows:  # the label of the rendered excerpt, [0, RENDER_SECONDS)
            end = min(piano.RENDER_SECONDS, r["duration_s"], r["midi_end_s"])
            va = (piano.vgmidi_window_va(measures[r["piece_id"]], 0.0, end) if r["timing_ok"]
                  else (float("nan"), float("nan")))
            r["valence"], r["arousal"] = (va if not np.isnan(va[0])
                                          else (r["valence_mean"], r["arousal_mean"]))
            r["id"], r["measures"] = str(r["piece_id"]), measures[r["piece_id"]]
    else:
        rows = piano.memomusic_pieces(root)
        rows = [r for r in rows if r["audio" if variant == "audio" else "midi"]]
    if variant == "audio":
        paths = [Path(r["audio"]) for r in rows]
    else:
        paths = [piano.render_path(piano.renders_root(), variant, spec.collection, r["id"])
                 for r in rows]
    return Tracks(spec, [str(r["id"]) for r in rows], paths,
                  np.array([r["split"] for r in rows]), rows)


def valence_arousal(tracks: Tracks) -> np.ndarray:
    """(T, 2) valence and arousal of every track in [-1, 1]; NaN where the dataset has none.
    4Q's quadrants give the signs only (+-0.5); Emotify's are read from its listeners' GEMS
    votes (valence_arousal.gems_valence_arousal)."""
    if tracks.dataset == "emotify":
        return np.array([gems_valence_arousal({k[6:]: v for k, v in r.items() if k.startswith("votes_")})
                         for r in tracks.rows], float)
    if tracks.spec.family:
        return np.array([[r["valence"], r["arousal"]] for r in tracks.rows], float)
    if tracks.dataset == "4q":
        q = np.array([int(r["Quadrant"][1]) for r in tracks.rows])
        return np.stack([np.where((q == 1) | (q == 4), 0.5, -0.5),
                         np.where(q <= 2, 0.5, -0.5)], axis=1)
    return np.full((len(tracks.ids), 2), np.nan)


def segment_valence_arousal(tracks: Tracks, i: int, starts: np.ndarray,
                            seconds: float = 10.0) -> np.ndarray:
    """(S, 2) valence/arousal of track i's segments starting at `starts` (s): VGMIDI's from
    its measures where their times hold, every other dataset's the track's own."""
    row = tracks.rows[i]
    song = valence_arousal(tracks.restrict([tracks.ids[i]]))[0]
    if tracks.spec.collection != "vgmidi" or not row["timing_ok"]:
        return np.repeat(song[None], len(starts), axis=0)
    end = row["label_end_s"]
    out = [piano.vgmidi_window_va(row["measures"], t, min(t + seconds, end)) if t < end
           else (np.nan, np.nan) for t in starts]
    out = np.array(out, float)
    return np.where(np.isnan(out), song, out)


def ground_truth(tracks: Tracks, label_set: str, labels: Iterable[str]) -> np.ndarray:
    """(T, L) bool positives of every track for the labels of `label_set`."""
    labels = list(labels)
    index = {label: i for i, label in enumerate(labels)}
    truth = np.zeros((len(tracks.ids), len(labels)), dtype=bool)
    if tracks.spec.vocabulary and label_set == tracks.spec.label_set:  # a folder dataset
        for t, row in enumerate(tracks.rows):
            truth[t, [index[label] for label in row["labels"]]] = True
    elif tracks.dataset == "emotify" and label_set == "gems":
        for t, row in enumerate(tracks.rows):
            votes = np.array([float(row[f"votes_{c}"]) for c in _EMOTIFY_COLUMNS])
            for c in np.argsort(-votes, kind="stable")[:3]:  # ties: column order
                truth[t, index[_EMOTIFY_COLUMNS[c].replace("_", " ")]] = True
    elif tracks.dataset == "4q" and label_set == "allmusic":
        for t, row in enumerate(tracks.rows):
            for tag in row["MoodsStrSplit"].split(";"):
                if tag.strip().lower() in index:
                    truth[t, index[tag.strip().lower()]] = True
    elif tracks.dataset == "4q" and label_set == "quadrants":
        for t, row in enumerate(tracks.rows):
            truth[t, int(row["Quadrant"][1]) - 1] = True
    elif tracks.spec.family and label_set in ("quadrants", "circumplex"):
        for t, (v, a) in enumerate(valence_arousal(tracks)):
            if label_set == "quadrants":
                truth[t, int(quadrant_of(v, a)) - 1] = True
            else:
                truth[t, [index[w] for w in circumplex_positives(v, a)]] = True
    else:
        raise ValueError(f"{tracks.dataset} has no ground truth for label set {label_set!r}")
    return truth


def label_strings(label_set: str) -> list[str]:
    """A built-in label set's strings (a folder dataset's: `DatasetSpec.labels`); "circumplex"
    is the training vocabulary of the valence/arousal sets."""
    if label_set == "circumplex":
        return list(CIRCUMPLEX)
    return list(load_label_set(label_set).labels)
