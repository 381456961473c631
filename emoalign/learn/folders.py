"""Your own data: a folder of audio plus a CSV of labels, as a dataset like the shipped ones
(`Tracks`, with its own vocabulary), so features, training and evaluation take either."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import numpy as np

from ..text.labels import MAX_WORD_CHARS
from .datasets import CUSTOM_PREFIX, SPLITS, DatasetSpec, Tracks

MIN_FOLDER_TRACKS = 6
MAX_LABELS_CSV_BYTES = 16 << 20  # a labels CSV of 2,000 uploaded files is well under 1 MB


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
