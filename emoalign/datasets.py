"""The datasets and their ground truth.

- `DATASETS`: "emotify" (GEMS-9, positives = top-3 labels by vote, ties by column order) and
  "4q" (AllMusic mood tags restricted to the "allmusic" label set; Russell quadrant for the
  "quadrants" label set). Both use their fixed train / validation / test splits.
- The solo-piano sets, rendered (piano.py, train/render.py): "vgmidi@<soundfont>" and
  "memomusic@<soundfont>" for each of `piano.SOUNDFONTS`, plus "memomusic@audio" (its 61 real
  recordings). They have valence/arousal, not words: their own label set is "circumplex" (the
  nearest circumplex words of their valence/arousal, see valence_arousal.py), and "quadrants"
  comes from the signs. `valence_arousal` gives every dataset's (valence, arousal) in [-1, 1].
- `folder_dataset` turns any folder of audio plus a CSV of labels into the same `Tracks`, with
  its own vocabulary; everything downstream (features, training, evaluation) accepts either.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from .labels import MAX_WORD_CHARS
from .piano import PIANO_DATASETS, SOUNDFONTS

REPO_ROOT = Path(__file__).resolve().parent.parent
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
MIN_FOLDER_TRACKS = 6
MAX_LABELS_CSV_BYTES = 16 << 20  # a labels CSV of 2,000 uploaded files is well under 1 MB
_EMOTIFY_COLUMNS = ("amazement", "solemnity", "tenderness", "nostalgia", "calmness", "power",
                    "joyful_activation", "tension", "sadness")


def data_root() -> Path:
    """The shared data directory: $EMOALIGN_DATA, else ../shared/data beside the repository."""
    return Path(os.environ.get("EMOALIGN_DATA", REPO_ROOT.parent / "shared" / "data"))


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
            from .piano import renders_root
            if not (renders_root() / variant / spec.collection).is_dir():
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
    from . import piano
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
        from .valence_arousal import gems_valence_arousal
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
    from .piano import vgmidi_window_va
    end = row["label_end_s"]
    out = [vgmidi_window_va(row["measures"], t, min(t + seconds, end)) if t < end
           else (np.nan, np.nan) for t in starts]
    out = np.array(out, float)
    return np.where(np.isnan(out), song, out)


def folder_dataset(audio_dir: str | Path, labels_csv: str | Path, file_column: str = "file",
                   labels_column: str = "labels", separator: str = ";",
                   split_column: str | None = "split", seed: int = 42,
                   uploaded: bool = False) -> Tracks:
    """A folder of audio plus a CSV of labels, as a dataset like the shipped ones.

    `labels_csv` has one row per track: `file_column`, the audio file's path relative to
    `audio_dir`; `labels_column`, its labels joined by `separator` (stripped, lower-cased);
    and, when the CSV has `split_column`, "train", "validation" or "test". Without that column
    the tracks are split 80/10/10 at random (`seed`; at least one track in each). The
    vocabulary is the CSV's distinct labels (sorted); top-k is the mean number of labels per
    track, rounded, at least 1. The dataset (and its label set, and its feature cache
    ``<encoder>/custom-<hash>.npz``) is named after a hash of the two resolved paths.

    `uploaded`: the folder holds a visitor's upload. Then every file the CSV names must be
    one of the regular files in it, looked up by name among them (never opened by the
    name): absolute paths, `..`, links and anything else outside get one message, the same
    whether or not such a file exists on the server.

    Raises ValueError, with a message for people, when the CSV does not fit the folder (or is
    not a readable UTF-8 CSV, or is over `MAX_LABELS_CSV_BYTES`, or has labels over
    `MAX_WORD_CHARS` characters).

    >>> tracks = folder_dataset("my/audio", "my/labels.csv")       # doctest: +SKIP
    >>> tracks.dataset, tracks.spec.vocabulary[:2], tracks.spec.k  # doctest: +SKIP
    ('custom-3f2a9c01de', ('calm', 'happy'), 2)
    """
    audio_dir = Path(audio_dir).expanduser().resolve()
    labels_csv = Path(labels_csv).expanduser().resolve()
    if not audio_dir.is_dir():
        raise ValueError(f"The audio folder {audio_dir} does not exist.")
    if not labels_csv.is_file():
        raise ValueError(f"The labels CSV {labels_csv} does not exist.")
    rows, columns = read_labels_csv(labels_csv)
    missing = [c for c in (file_column, labels_column) if c not in columns]
    if missing:
        raise ValueError(f"{labels_csv.name} has no column {' or '.join(map(repr, missing))}; "
                         f"its columns are: {', '.join(map(str, columns[:20])) or 'none'}.")
    if len(rows) < MIN_FOLDER_TRACKS:
        raise ValueError(f"{labels_csv.name} lists {len(rows)} track(s); at least "
                         f"{MIN_FOLDER_TRACKS} are needed (some to train, validate and test on).")
    files = [(r[file_column] or "").strip() for r in rows]
    if uploaded:
        files, paths = _uploaded_files(audio_dir, files, labels_csv.name)
    else:
        paths = [audio_dir / f for f in files]
        absent = [f for f, p in zip(files, paths) if not p.is_file()]
        if absent:
            raise ValueError(f"{len(absent)} file(s) listed in {labels_csv.name} are not in "
                             f"{audio_dir}, e.g. {', '.join(map(repr, absent[:3]))}.")
    twice = sorted({f for f in files if files.count(f) > 1})
    if twice:
        raise ValueError(f"{labels_csv.name} lists some files twice, e.g. {twice[0]!r}.")
    labels = [tuple(dict.fromkeys(l.strip().lower() for l in (r[labels_column] or "")
                                  .split(separator) if l.strip())) for r in rows]
    long = next((l for ls in labels for l in ls if len(l) > MAX_WORD_CHARS), None)
    if long is not None:
        raise ValueError(f"{labels_csv.name} has a label of {len(long):,} characters "
                         f"('{long[:30]}...'); labels are words or short phrases of at most "
                         f"{MAX_WORD_CHARS} characters.")
    unlabelled = [f for f, l in zip(files, labels) if not l]
    if unlabelled:
        raise ValueError(f"{len(unlabelled)} track(s) have no labels in column "
                         f"{labels_column!r} (separator {separator!r}), e.g. "
                         f"{', '.join(map(repr, unlabelled[:3]))}.")
    splits, has_splits = _folder_splits(rows, columns, split_column, seed, labels_csv.name)
    name = CUSTOM_PREFIX + hashlib.sha1(f"{audio_dir}\n{labels_csv}".encode()).hexdigest()[:10]
    how = f"column {split_column!r}" if has_splits else f"80/10/10 at random (seed {seed})"
    spec = DatasetSpec(name, name, max(1, round(float(np.mean([len(l) for l in labels])))),
                       vocabulary=tuple(sorted({l for ls in labels for l in ls})),
                       source=(f"{labels_csv.name} (uploaded audio)" if uploaded else
                               f"{labels_csv} (audio in {audio_dir})") + f"; splits: {how}")
    return Tracks(spec, files, paths, splits,
                  [{"file": f, "labels": l, "split": s} for f, l, s in zip(files, labels, splits)])


def read_labels_csv(path: Path) -> tuple[list[dict], list[str]]:
    """The rows and columns of a labels CSV (UTF-8, with or without a byte-order mark);
    ValueError with a message for people when it is too large, not UTF-8 or not a CSV."""
    if path.stat().st_size > MAX_LABELS_CSV_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_LABELS_CSV_BYTES >> 20} MB; a labels "
                         f"CSV is far smaller.")
    reader = None
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            return list(reader), [c for c in reader.fieldnames or [] if c is not None]
    except UnicodeDecodeError as error:
        raise ValueError(f"{path.name} is not UTF-8 text; save it as 'CSV UTF-8' and upload it "
                         f"again.") from error
    except csv.Error as error:
        line = reader.line_num if reader is not None else 0
        why = ("a field is longer than the CSV reader's limit of "
               f"{csv.field_size_limit():,} characters" if "field larger" in str(error)
               else "a malformed line")
        raise ValueError(f"{path.name} is not a readable CSV: {why} (line {line}).") from error


def _uploaded_files(audio_dir: Path, files: list[str], csv_name: str
                    ) -> tuple[list[str], list[Path]]:
    """The CSV's file names as paths inside an uploaded folder, looked up among the regular
    files it holds (never opened by the name): one message for every name that is not one
    of them, whatever it points at on the server."""
    present = {p.relative_to(audio_dir).as_posix() for p in audio_dir.rglob("*")
               if p.is_file() and not p.is_symlink()}
    keys = [re.sub(r"^(\./)+", "", f.replace("\\", "/")) for f in files]
    absent = [(line, f) for line, (f, key) in enumerate(zip(files, keys), 2) if key not in present]
    if absent:
        lines = ", ".join(str(line) for line, _ in absent[:5])
        example = sorted(present)[0] if present else "song.ogg"
        raise ValueError(  # the lines only: the same words whatever the names point at
            f"{len(absent)} file(s) named in {csv_name} are not among the uploaded audio files "
            f"(line {lines}{', ...' if len(absent) > 5 else ''}). Name each file by its path "
            f"inside the upload, e.g. {example!r}.")
    return keys, [audio_dir / key for key in keys]


def _folder_splits(rows: list[dict], columns: list[str], split_column: str | None, seed: int,
                   csv_name: str) -> tuple[np.ndarray, bool]:
    """Each row's split (from `split_column` when the CSV has it, else 80/10/10 at random),
    and whether the CSV gave them; ValueError when a split is unknown or left empty."""
    has_splits = bool(split_column) and split_column in columns
    if has_splits:
        splits = np.array([(r[split_column] or "").strip().lower() for r in rows])
        odd = sorted(set(splits.tolist()) - set(SPLITS))
        if odd:
            raise ValueError(f"Column {split_column!r} must hold train, validation or test; "
                             f"{csv_name} also has {', '.join(map(repr, odd[:3]))}.")
    else:
        splits = random_splits(len(rows), seed)
    empty = [s for s in SPLITS if not (splits == s).any()]
    if empty:
        raise ValueError(f"No track of {csv_name} is in the {' or '.join(empty)} split; "
                         f"each split needs at least one.")
    return splits, has_splits


def random_splits(n: int, seed: int = 42) -> np.ndarray:
    """(n,) "train" / "validation" / "test", 80/10/10 in random order, at least one of each."""
    n_held = max(1, round(0.1 * n))
    splits = np.array(["train"] * (n - 2 * n_held) + ["validation"] * n_held + ["test"] * n_held)
    return splits[np.random.default_rng(seed).permutation(n)]


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
        from .valence_arousal import circumplex_positives, quadrant_of
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
        from .valence_arousal import CIRCUMPLEX
        return list(CIRCUMPLEX)
    from .labels import load_label_set
    return list(load_label_set(label_set).labels)
