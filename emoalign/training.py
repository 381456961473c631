"""Training the alignment adapter on cached encoder features, and scoring it.

Read top to bottom: the datasets and their ground truth, the feature cache, the training
configuration, the data a run trains on, the loop, and evaluation.

- Datasets (`DATASETS`): "emotify" (GEMS-9, positives = top-3 labels by vote, ties by column
  order) and "4q" (AllMusic mood tags restricted to the "allmusic" label set; Russell quadrant
  for the "quadrants" label set). Both use their fixed train / validation / test splits.
  `folder_dataset` turns any folder of audio plus a CSV of labels into the same `Tracks`, with
  its own vocabulary; everything below accepts either.
- Feature cache: one ``<features_dir>/<encoder>/<dataset>.npz`` per encoder and dataset,
  holding every 10-s segment's features, tags and start time, keyed by track.
- Training: AdamW, ReduceLROnPlateau on validation macro-F1, early stopping, fixed seeds,
  model selection on the training datasets' validation splits only.
- `run_training`: the whole job (features, training, evaluation, saving) for the app and
  train/train.py.
"""

from __future__ import annotations

import csv
import hashlib
import os
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from . import losses, metrics
from .adapter import Adapter, AdapterConfig
from .clusters import PAPER_BANDWIDTH

REPO_ROOT = Path(__file__).resolve().parent.parent
SPLITS = ("train", "validation", "test")


# ---------------------------------------------------------------------------------------------
# Datasets and ground truth


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    label_set: str  # the dataset's own vocabulary (trained on)
    k: int  # top-k for its own labels (the mean number of positives per song)
    extra_label_sets: tuple[str, ...] = ()  # other label sets it can be scored on
    vocabulary: tuple[str, ...] = ()  # a folder dataset's own labels; () for built-in label sets
    source: str = "fixed splits of ../shared/data (see its README)"

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


DATASETS = {
    "emotify": DatasetSpec("emotify", "gems", 3),
    "4q": DatasetSpec("4q", "allmusic", 6, ("quadrants",)),
}
LABEL_SET_K = {"gems": 3, "allmusic": 6, "quadrants": 1}
CUSTOM_PREFIX = "custom-"  # names of folder datasets: custom-<hash of the folder and CSV paths>
MIN_FOLDER_TRACKS = 6
_EMOTIFY_COLUMNS = ("amazement", "solemnity", "tenderness", "nostalgia", "calmness", "power",
                    "joyful_activation", "tension", "sadness")


def data_root() -> Path:
    """The shared data directory: $EMOALIGN_DATA, else ../shared/data beside the repository."""
    return Path(os.environ.get("EMOALIGN_DATA", REPO_ROOT.parent / "shared" / "data"))


def features_root() -> Path:
    """The feature cache: $EMOALIGN_FEATURES, else features/ in the repository (git-ignored)."""
    return Path(os.environ.get("EMOALIGN_FEATURES", REPO_ROOT / "features"))


def available_datasets(root: str | Path | None = None) -> list[str]:
    """The shipped datasets whose folder is in the data directory."""
    root = Path(root or data_root())
    return [d for d in DATASETS if (root / d).is_dir()]


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


def folder_dataset(audio_dir: str | Path, labels_csv: str | Path, file_column: str = "file",
                   labels_column: str = "labels", separator: str = ";",
                   split_column: str | None = "split", seed: int = 42) -> Tracks:
    """A folder of audio plus a CSV of labels, as a dataset like the shipped ones.

    `labels_csv` has one row per track: `file_column`, the audio file's path relative to
    `audio_dir`; `labels_column`, its labels joined by `separator` (stripped, lower-cased);
    and, when the CSV has `split_column`, "train", "validation" or "test". Without that column
    the tracks are split 80/10/10 at random (`seed`; at least one track in each). The
    vocabulary is the CSV's distinct labels (sorted); top-k is the mean number of labels per
    track, rounded, at least 1. The dataset (and its label set, and its feature cache
    ``<encoder>/custom-<hash>.npz``) is named after a hash of the two resolved paths.

    Raises ValueError, with a message for people, when the CSV does not fit the folder.

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
    with open(labels_csv, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        rows, columns = list(reader), reader.fieldnames or []
    missing = [c for c in (file_column, labels_column) if c not in columns]
    if missing:
        raise ValueError(f"{labels_csv.name} has no column {' or '.join(map(repr, missing))}; "
                         f"its columns are: {', '.join(columns) or 'none'}.")
    if len(rows) < MIN_FOLDER_TRACKS:
        raise ValueError(f"{labels_csv.name} lists {len(rows)} track(s); at least "
                         f"{MIN_FOLDER_TRACKS} are needed (some to train, validate and test on).")
    files = [(r[file_column] or "").strip() for r in rows]
    absent = [f for f in files if not (audio_dir / f).is_file()]
    if absent:
        raise ValueError(f"{len(absent)} file(s) listed in {labels_csv.name} are not in "
                         f"{audio_dir}, e.g. {', '.join(map(repr, absent[:3]))}.")
    twice = sorted({f for f in files if files.count(f) > 1})
    if twice:
        raise ValueError(f"{labels_csv.name} lists some files twice, e.g. {twice[0]!r}.")
    labels = [tuple(dict.fromkeys(l.strip().lower() for l in (r[labels_column] or "")
                                  .split(separator) if l.strip())) for r in rows]
    unlabelled = [f for f, l in zip(files, labels) if not l]
    if unlabelled:
        raise ValueError(f"{len(unlabelled)} track(s) have no labels in column "
                         f"{labels_column!r} (separator {separator!r}), e.g. "
                         f"{', '.join(map(repr, unlabelled[:3]))}.")
    has_splits = bool(split_column) and split_column in columns
    if has_splits:
        splits = np.array([(r[split_column] or "").strip().lower() for r in rows])
        odd = sorted(set(splits.tolist()) - set(SPLITS))
        if odd:
            raise ValueError(f"Column {split_column!r} must hold train, validation or test; "
                             f"{labels_csv.name} also has {', '.join(map(repr, odd[:3]))}.")
    else:
        splits = random_splits(len(rows), seed)
    empty = [s for s in SPLITS if not (splits == s).any()]
    if empty:
        raise ValueError(f"No track of {labels_csv.name} is in the {' or '.join(empty)} split; "
                         f"each split needs at least one.")
    name = CUSTOM_PREFIX + hashlib.sha1(f"{audio_dir}\n{labels_csv}".encode()).hexdigest()[:10]
    how = f"column {split_column!r}" if has_splits else f"80/10/10 at random (seed {seed})"
    spec = DatasetSpec(name, name, max(1, round(float(np.mean([len(l) for l in labels])))),
                       vocabulary=tuple(sorted({l for ls in labels for l in ls})),
                       source=f"{labels_csv} (audio in {audio_dir}); splits: {how}")
    return Tracks(spec, files, [audio_dir / f for f in files], splits,
                  [{"file": f, "labels": l, "split": s} for f, l, s in zip(files, labels, splits)])


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
    else:
        raise ValueError(f"{tracks.dataset} has no ground truth for label set {label_set!r}")
    return truth


# ---------------------------------------------------------------------------------------------
# Feature cache


@dataclass
class FeatureSet:
    """Every cached segment of one dataset under one encoder; track i owns the rows
    offsets[i]:offsets[i+1] of `features` (S_i, D), `tags` and `starts` (seconds)."""
    encoder: str
    dataset: str
    track_ids: np.ndarray  # (T,) str
    offsets: np.ndarray  # (T + 1,) int64
    features: np.ndarray  # (total segments, D) float32
    tags: np.ndarray  # (total segments, n_tags) float32; n_tags may be 0
    starts: np.ndarray  # (total segments,) float32 seconds
    tag_names: tuple[str, ...] = ()

    @property
    def feature_dim(self) -> int:
        return self.features.shape[1]

    def track(self, i: int) -> np.ndarray:
        return self.features[self.offsets[i]:self.offsets[i + 1]]

    def align(self, ids: list[str]) -> list[np.ndarray]:
        """The (S, D) features of each of `ids`; raises if any track is not cached."""
        where = {t: i for i, t in enumerate(self.track_ids.tolist())}
        missing = [t for t in ids if t not in where]
        if missing:
            raise KeyError(f"{len(missing)} {self.dataset} tracks are not in the {self.encoder} "
                           f"feature cache (e.g. {missing[0]}); run train/extract.py")
        return [self.track(where[t]) for t in ids]

    def limit_segments(self, max_segments: int | None) -> "FeatureSet":
        """The same tracks with at most `max_segments` evenly spread segments each."""
        if max_segments is None:
            return self
        rows = [self.offsets[i] + spread_segments(int(n), max_segments)
                for i, n in enumerate(np.diff(self.offsets))]
        counts = [len(r) for r in rows]
        rows = np.concatenate(rows)
        return FeatureSet(self.encoder, self.dataset, self.track_ids,
                          np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                          self.features[rows], self.tags[rows], self.starts[rows], self.tag_names)

    @staticmethod
    def concat(parts: list["FeatureSet"]) -> "FeatureSet":
        first = parts[0]
        counts = np.concatenate([np.diff(p.offsets) for p in parts])
        return FeatureSet(
            first.encoder, first.dataset, np.concatenate([p.track_ids for p in parts]),
            np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            np.concatenate([p.features for p in parts]), np.concatenate([p.tags for p in parts]),
            np.concatenate([p.starts for p in parts]), first.tag_names)


def feature_path(encoder: str, dataset: str, root: str | Path | None = None) -> Path:
    return Path(root or features_root()) / encoder / f"{dataset}.npz"


def save_features(features: FeatureSet, path: str | Path) -> None:
    """Write atomically (a temporary file renamed into place), so a kill never corrupts."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, encoder=features.encoder, dataset=features.dataset,
             track_ids=features.track_ids.astype(str), offsets=features.offsets,
             features=features.features, tags=features.tags, starts=features.starts,
             tag_names=np.array(features.tag_names, dtype=str))
    os.replace(tmp, path)


def load_features(encoder: str, dataset: str, root: str | Path | None = None,
                  path: str | Path | None = None, max_segments: int | None = None) -> FeatureSet:
    """The cached features of `dataset`, optionally limited to `max_segments` per track."""
    path = Path(path or feature_path(encoder, dataset, root))
    if not path.is_file():
        raise FileNotFoundError(f"No feature cache {path}; run: python train/extract.py "
                                f"--encoder {encoder} --dataset {dataset}")
    with np.load(path) as z:
        cache = FeatureSet(str(z["encoder"]), str(z["dataset"]), z["track_ids"], z["offsets"],
                           z["features"], z["tags"], z["starts"], tuple(z["tag_names"].tolist()))
    return cache.limit_segments(max_segments)


def spread_segments(n: int, max_segments: int | None) -> np.ndarray:
    """Indices of at most `max_segments` of `n` segments: the middle segment of each of
    `max_segments` equal parts (3 -> 1: [1]; 3 -> 2: [0, 2]; 6 -> 2: [1, 4])."""
    if max_segments is None or n <= max_segments:
        return np.arange(n)
    return ((np.arange(max_segments) + 0.5) * n / max_segments).astype(int)


def extract_features(encoder, dataset: str, path: str | Path, tracks: Tracks | None = None,
                     track_ids: list[str] | None = None, chunk: int = 20,
                     max_segments: int | None = None, progress: bool = True,
                     on_track: Callable[[int, int], None] | None = None,
                     should_stop: Callable[[], bool] | None = None) -> FeatureSet:
    """Encode every track of `dataset` (or just `track_ids`) into the cache at `path`.

    `tracks` defaults to the shipped dataset's (pass a `folder_dataset`'s for a folder).
    `max_segments` keeps at most that many 10-s segments per track, evenly spread over it
    (`spread_segments`), to bound the cost of slow encoders; their start times are stored.
    Resumes: tracks already in the cache are skipped. The cache is rewritten every `chunk`
    tracks, so an interrupted run loses at most that many. `progress` shows a tqdm bar;
    `on_track(done, total)` is called after each newly encoded track. `should_stop()` is asked
    before each track; when it says True, what is encoded is saved and `jobs.Stopped` raised.
    """
    from tqdm import tqdm

    from .audio import SEGMENT_SECONDS, load_audio, split_segments

    tracks = tracks or load_tracks(dataset)
    path = Path(path)
    parts = []
    done: set[str] = set()
    if path.is_file():
        cached = load_features(encoder.name, dataset, path=path)
        if (cached.encoder != encoder.name or cached.feature_dim != encoder.feature_dim
                or cached.tag_names != tuple(encoder.tag_names)):
            raise ValueError(
                f"{path} holds {cached.feature_dim}-d {cached.encoder} features with "
                f"{len(cached.tag_names)} tags, but the encoder gives {encoder.feature_dim}-d "
                f"{encoder.name} features with {len(encoder.tag_names)} tags (its configuration "
                f"changed?); move the old cache away")
        parts.append(cached)
        done = set(cached.track_ids.tolist())
    wanted = set(track_ids) if track_ids is not None else None
    todo = [(t, p) for t, p in zip(tracks.ids, tracks.paths)
            if t not in done and (wanted is None or t in wanted)]
    pending: list[tuple[str, np.ndarray, np.ndarray | None, np.ndarray]] = []

    def flush() -> None:
        if not pending:
            return
        feats = [f for _, f, _, _ in pending]
        n_tags = len(encoder.tag_names)
        tags = [g if g is not None else np.zeros((len(f), n_tags), np.float32)
                for (_, f, g, _) in pending]
        counts = [len(f) for f in feats]
        parts.append(FeatureSet(
            encoder.name, dataset, np.array([t for t, _, _, _ in pending], dtype=str),
            np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            np.concatenate(feats).astype(np.float32), np.concatenate(tags).astype(np.float32),
            np.concatenate([s for _, _, _, s in pending]).astype(np.float32),
            tuple(encoder.tag_names)))
        merged = FeatureSet.concat(parts)
        parts[:] = [merged]
        save_features(merged, path)
        pending.clear()

    for done, (track_id, audio_path) in enumerate(
            tqdm(todo, desc=f"{encoder.name}/{dataset}", disable=not progress, unit="track"), 1):
        if should_stop is not None and should_stop():
            flush()
            from .jobs import Stopped
            raise Stopped("stopped while encoding")
        segments = split_segments(load_audio(audio_path, encoder.sample_rate), encoder.sample_rate)
        keep = spread_segments(len(segments), max_segments)
        encoded = encoder.encode(segments[keep])
        pending.append((track_id, np.asarray(encoded.features, np.float32), encoded.tags,
                        keep * SEGMENT_SECONDS))
        if len(pending) >= chunk:
            flush()
        if on_track:
            on_track(done, len(todo))
    flush()
    if not parts:
        raise ValueError(f"nothing to extract for {dataset}")
    return parts[0] if len(parts) == 1 else FeatureSet.concat(parts)


# ---------------------------------------------------------------------------------------------
# Configuration


@dataclass
class TrainConfig:
    """One training run. `targets` "labels" trains on the label embeddings (baseline 1),
    "clusters" on the Mean Shift cluster centres of the pooled vocabulary (baseline 2);
    `lam` > 0 adds the alignment regulariser (always over the label clusters)."""
    datasets: tuple[str, ...] = ("emotify", "4q")
    encoder: str = "musicnn"
    targets: str = "labels"  # "labels" | "clusters"
    lam: float = 0.0
    bandwidth: float | None = PAPER_BANDWIDTH  # None: estimate from `quantile`
    quantile: float = 0.03
    variant: str = "segment"  # "segment" | "song"
    d_model: int = 256
    n_heads: int = 8
    n_layers: int = 2
    ff_dim: int = 1024
    dropout: float = 0.1
    lr: float = 3e-4  # chosen on 4Q validation F1 among 1e-4, 3e-4, 1e-3
    weight_decay: float = 0.01
    batch_songs: int = 32
    max_epochs: int = 60
    lr_patience: int = 5
    lr_factor: float = 0.2
    min_lr: float = 1.6e-7
    early_stop: int = 12  # epochs without a better validation F1
    margin: float = 1.0
    n_negatives: int = 5
    hard_weight: float = 1.0
    seed: int = 42
    train_splits: tuple[str, ...] = ("train",)
    select_split: str = "validation"
    max_segments: int | None = None  # None: every 10-s segment of a song; N: N evenly spread

    def __post_init__(self) -> None:
        self.datasets = tuple(self.datasets)
        self.train_splits = tuple(self.train_splits)
        unknown = [d for d in self.datasets
                   if d not in DATASETS and not d.startswith(CUSTOM_PREFIX)]
        if unknown or not self.datasets:
            raise ValueError(f"datasets must be among {list(DATASETS)} or folder datasets "
                             f"({CUSTOM_PREFIX}...), got {self.datasets}")
        if self.targets not in ("labels", "clusters"):
            raise ValueError(f"targets must be 'labels' or 'clusters', got {self.targets!r}")
        if self.select_split in self.train_splits:
            raise ValueError("model selection must use a split that is not trained on")


# ---------------------------------------------------------------------------------------------
# The data a run trains on


@dataclass
class SongSet:
    """Songs ready for the adapter: per song (S, D) features plus (T,) targets."""
    features: list[np.ndarray]
    positive: np.ndarray  # (N, T) bool over the run's targets
    allowed: np.ndarray  # (N, T) bool: the targets of the song's own dataset
    clusters: np.ndarray  # (N, C) bool: the label clusters of the song's positives


@dataclass
class EvalSet:
    """Songs with ground truth on one label set, for scoring."""
    name: str  # e.g. "emotify/test/gems"
    features: list[np.ndarray]
    truth: np.ndarray  # (N, L) bool
    labels: list[str]
    label_embeddings: np.ndarray  # (L, 384)
    k: int
    train_truth: np.ndarray  # (N_train, L) bool: the dataset's train split, for the baselines


class TextCache:
    """The text model, loaded once per process and shared by every run."""
    _encoder = None

    @classmethod
    def embed(cls, words: list[str]) -> np.ndarray:
        if cls._encoder is None:
            from .text import TextEncoder
            cls._encoder = TextEncoder()
        return cls._encoder.embed(list(words))


def label_strings(label_set: str) -> list[str]:
    """A built-in label set's strings (a folder dataset's: `DatasetSpec.labels`)."""
    from .labels import load_label_set
    return list(load_label_set(label_set).labels)


def eval_set(features: FeatureSet, tracks: Tracks, label_set: str, split: str,
             k: int | None = None) -> EvalSet:
    """The songs of `split` of a dataset, with their ground truth on `label_set`."""
    labels = tracks.spec.labels(label_set)
    truth = ground_truth(tracks, label_set, labels)
    idx = tracks.subset(split)
    feats = features.align([tracks.ids[i] for i in idx])
    return EvalSet(f"{tracks.dataset}/{split}/{label_set}", feats, truth[idx], labels,
                   TextCache.embed(labels), k or tracks.spec.top_k(label_set),
                   truth[tracks.subset("train")])


@dataclass
class RunData:
    """Everything one configuration needs: targets, training songs, validation sets."""
    targets: np.ndarray  # (T, 384) target embeddings (labels or cluster centres)
    target_names: list[str]
    vocabulary: list[str]  # the pooled labels of the training datasets
    assignments: np.ndarray  # (V,) cluster of each vocabulary label
    bandwidth: float
    train: SongSet
    validation: list[EvalSet]
    specs: dict[str, DatasetSpec]  # the training datasets'


def prepare_run(config: TrainConfig, features: dict[str, FeatureSet],
                tracks: dict[str, Tracks]) -> RunData:
    """Pool the training datasets' vocabularies, cluster them, and build the song sets."""
    features = {d: f.limit_segments(config.max_segments) for d, f in features.items()}
    specs = {d: tracks[d].spec for d in config.datasets}
    vocabulary = list(dict.fromkeys(l for spec in specs.values() for l in spec.labels()))
    embeddings = TextCache.embed(vocabulary)
    clustering = _clusters(tuple(vocabulary), config.bandwidth, config.quantile)
    assignments = np.asarray(clustering.assignments)
    n_clusters = int(assignments.max()) + 1
    if config.targets == "clusters":
        centres = np.asarray(clustering.centres, dtype=np.float32)
        targets = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        to_target = assignments
        names = [" | ".join(l for l, a in zip(vocabulary, assignments) if a == c)
                 for c in range(n_clusters)]
    else:
        targets, to_target, names = embeddings, np.arange(len(vocabulary)), vocabulary
    vocab_index = {l: i for i, l in enumerate(vocabulary)}

    feats, positive, allowed, cluster_sets = [], [], [], []
    for d, spec in specs.items():
        labels = spec.labels()
        truth = ground_truth(tracks[d], spec.label_set, labels)
        columns = np.array([vocab_index[l] for l in labels])
        idx = np.concatenate([tracks[d].subset(s) for s in config.train_splits])
        idx = idx[truth[idx].any(axis=1)]  # a song without a known label cannot be aligned
        own = np.zeros(len(targets), bool)
        own[to_target[columns]] = True
        for i in idx:
            vocab_pos = columns[truth[i]]
            pos = np.zeros(len(targets), bool)
            pos[to_target[vocab_pos]] = True
            clu = np.zeros(n_clusters, bool)
            clu[assignments[vocab_pos]] = True
            positive.append(pos)
            allowed.append(own)
            cluster_sets.append(clu)
        feats += features[d].align([tracks[d].ids[i] for i in idx])
    validation = [eval_set(features[d], tracks[d], spec.label_set, config.select_split)
                  for d, spec in specs.items()]
    return RunData(np.asarray(targets, np.float32), names, vocabulary, assignments,
                   float(clustering.bandwidth),
                   SongSet(feats, np.array(positive), np.array(allowed), np.array(cluster_sets)),
                   validation, specs)


@lru_cache(maxsize=16)
def _clusters(vocabulary: tuple[str, ...], bandwidth: float | None, quantile: float):
    """Mean Shift over the vocabulary's embeddings, computed once per process and setting."""
    from .clusters import label_clusters
    return label_clusters(list(vocabulary), TextCache.embed(list(vocabulary)),
                          bandwidth=bandwidth, quantile=quantile)


def pad_batch(features: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Songs of (S_i, D) -> features (B, S_max, D) float32 and mask (B, S_max) bool."""
    n = max(len(f) for f in features)
    out = np.zeros((len(features), n, features[0].shape[1]), np.float32)
    mask = np.zeros((len(features), n), bool)
    for i, f in enumerate(features):
        out[i, :len(f)] = f
        mask[i, :len(f)] = True
    return torch.from_numpy(out), torch.from_numpy(mask)


# ---------------------------------------------------------------------------------------------
# The loop


@dataclass
class TrainResult:
    adapter: Adapter
    config: TrainConfig
    best_epoch: int
    best_val_f1: float
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    data: RunData | None = None

    def card(self, extra: dict | None = None) -> dict:
        """The JSON card saved beside the weights."""
        d = self.data
        clusters = [[l for l, a in zip(d.vocabulary, d.assignments) if a == c]
                    for c in range(int(d.assignments.max()) + 1)]
        card = {
            "encoder": self.config.encoder,
            "variant": self.config.variant,
            "datasets": list(self.config.datasets),
            "label_sets": [spec.label_set for spec in d.specs.values()],
            "dataset_label_sets": {ds: spec.label_set for ds, spec in d.specs.items()},
            "targets": self.config.targets,
            "lambda": self.config.lam,
            "clusters": {"bandwidth": d.bandwidth, "quantile": self.config.quantile,
                         "bandwidth_given": self.config.bandwidth is not None,
                         "n_labels": len(d.vocabulary), "n_clusters": len(clusters),
                         "multi_label_clusters": [c for c in clusters if len(c) > 1]},
            "data": {"train_splits": list(self.config.train_splits),
                     "max_segments_per_song": self.config.max_segments,
                     "selection_split": self.config.select_split,
                     "n_train_songs": len(d.train.features),
                     "n_train_segments": int(sum(len(f) for f in d.train.features)),
                     "split_source": "; ".join(dict.fromkeys(s.source for s in d.specs.values()))},
            "training": asdict(self.config),
            "best_epoch": self.best_epoch,
            "seconds": round(self.seconds, 1),
            "metrics": {"validation_macro_f1": self.best_val_f1},
        }
        custom = {s.label_set: list(s.vocabulary) for s in d.specs.values() if s.vocabulary}
        if custom:  # the labels of folder datasets, which no built-in label set holds
            card["custom_label_sets"] = custom
        card.update(extra or {})
        return card


def set_seed(seed: int) -> None:
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_adapter(config: TrainConfig, input_dim: int, train_features: list[np.ndarray]) -> Adapter:
    adapter = Adapter(AdapterConfig(input_dim, config.d_model, config.n_heads, config.n_layers,
                                    config.ff_dim, config.dropout, variant=config.variant))
    stacked = np.concatenate(train_features)
    adapter.set_input_stats(stacked.mean(axis=0), stacked.std(axis=0))
    return adapter


def train(config: TrainConfig, features: dict[str, FeatureSet] | None = None,
          tracks: dict[str, Tracks] | None = None, progress: bool = True,
          data: RunData | None = None,
          on_epoch: Callable[[dict], None] | None = None,
          should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train one adapter. `features` / `tracks` default to the cache and the shared data.
    `should_stop()` is asked before every batch; True raises `jobs.Stopped`.

    Model selection: the epoch with the best mean song-level (vote) macro-F1 over the
    training datasets' `select_split` is kept.
    """
    from tqdm import tqdm

    start = time.time()
    tracks = tracks or {d: load_tracks(d) for d in config.datasets}
    features = features or {d: load_features(config.encoder, d) for d in config.datasets}
    data = data or prepare_run(config, features, tracks)
    set_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    songs = data.train
    adapter = build_adapter(config, songs.features[0].shape[1], songs.features)
    targets = torch.from_numpy(data.targets)
    optimizer = torch.optim.AdamW(adapter.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay, fused=True)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=config.lr_factor, patience=config.lr_patience,
        min_lr=config.min_lr)
    best_f1, best_epoch, best_state, history = -1.0, -1, None, []
    bar = tqdm(range(config.max_epochs), desc="train", disable=not progress, leave=False)
    for epoch in bar:
        adapter.train()
        order = rng.permutation(len(songs.features))
        totals = np.zeros(3)
        for b in range(0, len(order), config.batch_songs):
            if should_stop is not None and should_stop():
                from .jobs import Stopped
                raise Stopped("stopped while training")
            idx = order[b:b + config.batch_songs]
            x, mask = pad_batch([songs.features[i] for i in idx])
            seg = mask.flatten()
            out = adapter(x, mask).flatten(0, 1)[seg]  # (N segments, 384)
            repeat = mask.sum(dim=1)

            def per_segment(a: np.ndarray) -> torch.Tensor:
                return torch.from_numpy(a[idx]).repeat_interleave(repeat, dim=0)

            align = losses.alignment_loss(
                out, targets, per_segment(songs.positive), per_segment(songs.allowed),
                margin=config.margin, n_negatives=config.n_negatives,
                hard_weight=config.hard_weight, generator=generator)
            reg = (losses.alignment_regularizer(out, per_segment(songs.clusters))
                   if config.lam > 0 else out.new_zeros(()))
            loss = align + config.lam * reg
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            totals += [loss.item() * len(idx), align.item() * len(idx), reg.item() * len(idx)]
        totals /= len(order)
        val = [validation_f1(adapter, v) for v in data.validation]
        val_f1 = float(np.mean(val))
        scheduler.step(val_f1)
        row = {"epoch": epoch, "loss": totals[0], "align": totals[1], "reg": totals[2],
               "val_f1": val_f1, "lr": optimizer.param_groups[0]["lr"]}
        history.append(row)
        if on_epoch:
            on_epoch(row)
        if val_f1 > best_f1:
            best_f1, best_epoch = val_f1, epoch
            best_state = {k: v.detach().clone() for k, v in adapter.state_dict().items()}
        bar.set_postfix(loss=f"{totals[0]:.3f}", val_f1=f"{val_f1:.3f}", best=f"{best_f1:.3f}")
        if epoch - best_epoch >= config.early_stop:
            break
    adapter.load_state_dict(best_state)
    adapter.eval()
    return TrainResult(adapter, config, best_epoch, best_f1, history, time.time() - start, data)


# ---------------------------------------------------------------------------------------------
# Evaluation


@torch.no_grad()
def embed_songs(adapter: Adapter, features: list[np.ndarray], batch: int = 64) -> list[np.ndarray]:
    """Per song, the (S, 384) unit-norm segment embeddings (adapter in eval mode)."""
    was_training = adapter.training
    adapter.eval()
    out = []
    for b in range(0, len(features), batch):
        chunk = features[b:b + batch]
        x, mask = pad_batch(chunk)
        emb = adapter(x, mask).numpy()
        out += [emb[i, :len(f)] for i, f in enumerate(chunk)]
    adapter.train(was_training)
    return out


def validation_f1(adapter: Adapter, dataset: EvalSet) -> float:
    """Song-level (segment vote) macro-F1: the model-selection metric."""
    embedded = embed_songs(adapter, dataset.features)
    voted = np.stack([metrics.vote_top_k(e @ dataset.label_embeddings.T, dataset.k)
                      for e in embedded])
    return metrics.macro_f1(dataset.truth, voted)


def score(adapter: Adapter, dataset: EvalSet, per_label: bool = False) -> dict:
    """All metrics of `adapter` on `dataset` (see `metrics.evaluate_scores`)."""
    embedded = embed_songs(adapter, dataset.features)
    labels = dataset.label_embeddings
    segment_scores = [e @ labels.T for e in embedded]
    means = np.stack([e.mean(axis=0) for e in embedded])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    return metrics.evaluate_scores(segment_scores, means @ labels.T, dataset.truth, dataset.k,
                                   dataset.labels if per_label else None)


def trivial_baselines(dataset: EvalSet) -> dict:
    """The two trivial baselines on `dataset`, song level."""
    return {"most_frequent": metrics.most_frequent_baseline(dataset.train_truth, dataset.truth,
                                                           dataset.k),
            "random": metrics.random_baseline(dataset.truth, dataset.k)}


def evaluate_all(adapter: Adapter, tasks: Iterable[tuple[str, str, str]],
                 features: dict[str, FeatureSet], tracks: dict[str, Tracks],
                 per_label: bool = True, baselines: bool = True) -> dict[str, dict]:
    """Score `adapter` on (dataset, label_set, split) tasks -> {"dataset/split/label_set": metrics}.
    With `baselines`, each entry also holds the trivial baselines under "baselines"."""
    results = {}
    for dataset, label_set, split in tasks:
        evaluation = eval_set(features[dataset], tracks[dataset], label_set, split)
        result = score(adapter, evaluation, per_label=per_label)
        if baselines:
            result["baselines"] = trivial_baselines(evaluation)
        results[evaluation.name] = result
    return results


def in_domain_tasks(datasets: Iterable[str], split: str = "test") -> list[tuple[str, str, str]]:
    """Each dataset's own labels (and extra label sets) on `split`."""
    return [(d, ls, split) for d in datasets for ls in DATASETS[d].label_sets]



# ---------------------------------------------------------------------------------------------
# The whole job: features, training, evaluation, saving


@dataclass
class TrainingRun:
    """What `run_training` did."""
    path: Path  # the saved .safetensors; its card is path.with_suffix(".json")
    result: TrainResult
    metrics: list[dict]  # per task: task, dataset, label_set, split, zero_shot and the scores
    skipped: list[str]  # tasks not evaluated ("dataset/split/label_set"): features not cached

    @property
    def history(self) -> list[dict]:
        return self.result.history


def run_training(config: TrainConfig, encoder, out_dir: str | Path,
                 folders: Iterable[Tracks] = (), name: str | None = None,
                 progress: Callable[[float, str], None] | None = None,
                 on_epoch: Callable[[dict], None] | None = None,
                 features_dir: str | Path | None = None,
                 zero_shot_splits: tuple[str, ...] = ("test",),
                 card: dict | None = None,
                 should_stop: Callable[[], bool] | None = None) -> TrainingRun:
    """Encode, train, evaluate and save one adapter: the job of the app's Train tab and of
    train/train.py.

    `config.datasets` names shipped datasets and/or the datasets of `folders`
    (`folder_dataset`). The training datasets are encoded by `encoder` into the feature cache
    under `features_dir` (resuming; at most `config.max_segments` segments per track); the
    other shipped datasets in `data_root()` are scored only where their cache holds the tracks.
    Every label set of every dataset is scored on the test split (marked zero-shot where the
    label set was not trained on); datasets not trained on are scored on `zero_shot_splits`
    instead (e.g. ("test", "all")). The adapter and its card (`card` plus the metrics and
    per-label F1 of every task) are saved as `out_dir/<name>.safetensors` (default name:
    encoder-datasets-targets-lambda-time).

    `progress(fraction, message)` is called for every encoded track and every epoch (tqdm
    bars are shown only without it); `on_epoch(row)` gets each epoch's history row.
    `should_stop()` is asked before every track and every batch; True raises `jobs.Stopped`.
    """
    if encoder.name != config.encoder:
        raise ValueError(f"config.encoder is {config.encoder!r}, the encoder {encoder.name!r}")
    report = progress or (lambda fraction, message: None)
    tracks = {t.dataset: t for t in folders}
    for d in (*config.datasets, *available_datasets()):
        if d not in tracks:
            tracks[d] = load_tracks(d)
    features = {}
    for d, dataset in tracks.items():
        path = feature_path(encoder.name, d, features_dir)
        if d in config.datasets:  # resumes: only tracks missing from the cache are encoded
            report(0.0, f"Encoding {d} with {encoder.name} (once; cached in {path.parent})")
            features[d] = extract_features(
                encoder, d, path, dataset, max_segments=config.max_segments,
                progress=progress is None, should_stop=should_stop,
                on_track=lambda done, total, d=d: report(
                    done / total, f"Encoding {d} with {encoder.name}: track {done} of {total}"))
        elif path.is_file():
            features[d] = load_features(encoder.name, d, path=path)
    features = {d: f.limit_segments(config.max_segments) for d, f in features.items()}

    def epoch(row: dict) -> None:
        if on_epoch:
            on_epoch(row)
        report((row["epoch"] + 1) / config.max_epochs,
               f"Epoch {row['epoch'] + 1} of at most {config.max_epochs}: loss "
               f"{row['loss']:.4f}, validation macro-F1 {row['val_f1']:.3f}")

    result = train(config, {d: features[d] for d in config.datasets},
                   {d: tracks[d] for d in config.datasets}, progress=progress is None,
                   on_epoch=epoch, should_stop=should_stop)
    report(1.0, "Evaluating")
    trained = {tracks[d].spec.label_set for d in config.datasets}
    scores, metrics, skipped = {}, [], []
    for d, dataset in tracks.items():
        for label_set in dataset.spec.label_sets:
            zero_shot = label_set not in trained
            for split in ("test",) if d in config.datasets else zero_shot_splits:
                try:  # KeyError: no cache for `d`, or one without all of these tracks
                    (task, s), = evaluate_all(result.adapter, [(d, label_set, split)],
                                              features, tracks).items()
                except KeyError:
                    skipped.append(f"{d}/{split}/{label_set}")
                    continue
                scores[task] = s
                metrics.append({"task": task, "dataset": d, "label_set": label_set,
                                "split": split, "zero_shot": zero_shot,
                                **{k: v for k, v in s.items() if k != "per_label_f1"}})
    full_card = result.card(card)
    full_card["metrics"].update({row["task"]: {k: v for k, v in row.items() if k not in
                                               ("task", "dataset", "label_set", "split")}
                                 for row in metrics})
    full_card["per_label_f1"] = {task: s["per_label_f1"] for task, s in scores.items()}
    name = name or (f"{config.encoder}-{'+'.join(config.datasets)}-{config.targets}-"
                    f"lam{config.lam:g}-{time.strftime('%Y%m%d-%H%M%S')}")
    from .adapter import save_adapter
    path = save_adapter(result.adapter, Path(out_dir) / f"{name}.safetensors", full_card)
    return TrainingRun(path, result, metrics, skipped)
