"""The feature cache: one ``<features_dir>/<encoder>/<dataset>.npz`` per encoder and dataset,
holding every 10-s segment's features, tags and start time, keyed by track.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..paths import features_root
from .datasets import Tracks, load_tracks


class Stopped(Exception):
    """A job (encoding, training) that stopped on request: its stop flag, or its time cap."""


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
    before each track; when it says True, what is encoded is saved and `Stopped` raised.
    """
    from tqdm import tqdm

    from ..audio.load import SEGMENT_SECONDS, load_audio, split_segments

    tracks = tracks or load_tracks(dataset)
    path = Path(path)
    parts = _cached(encoder, dataset, path)
    done = set(parts[0].track_ids.tolist()) if parts else set()
    wanted = set(track_ids) if track_ids is not None else None
    todo = [(t, p) for t, p in zip(tracks.ids, tracks.paths)
            if t not in done and (wanted is None or t in wanted)]
    pending: list[tuple[str, np.ndarray, np.ndarray | None, np.ndarray]] = []

    def flush() -> None:
        if pending:
            parts[:] = [FeatureSet.concat([*parts, _pending_set(encoder, dataset, pending)])]
            save_features(parts[0], path)
            pending.clear()

    for n, (track_id, audio_path) in enumerate(
            tqdm(todo, desc=f"{encoder.name}/{dataset}", disable=not progress, unit="track"), 1):
        if should_stop is not None and should_stop():
            flush()
            raise Stopped("stopped while encoding")
        segments = split_segments(load_audio(audio_path, encoder.sample_rate), encoder.sample_rate)
        keep = spread_segments(len(segments), max_segments)
        encoded = encoder.encode(segments[keep])
        pending.append((track_id, np.asarray(encoded.features, np.float32), encoded.tags,
                        keep * SEGMENT_SECONDS))
        if len(pending) >= chunk:
            flush()
        if on_track:
            on_track(n, len(todo))
    flush()
    if not parts:
        raise ValueError(f"nothing to extract for {dataset}")
    return parts[0] if len(parts) == 1 else FeatureSet.concat(parts)


def _cached(encoder, dataset: str, path: Path) -> list[FeatureSet]:
    """[the cache at `path`] when there is one made by this encoder configuration, else []."""
    if not path.is_file():
        return []
    cached = load_features(encoder.name, dataset, path=path)
    if (cached.encoder != encoder.name or cached.feature_dim != encoder.feature_dim
            or cached.tag_names != tuple(encoder.tag_names)):
        raise ValueError(
            f"{path} holds {cached.feature_dim}-d {cached.encoder} features with "
            f"{len(cached.tag_names)} tags, but the encoder gives {encoder.feature_dim}-d "
            f"{encoder.name} features with {len(encoder.tag_names)} tags (its configuration "
            f"changed?); move the old cache away")
    return [cached]


def _pending_set(encoder, dataset: str,
                 pending: list[tuple[str, np.ndarray, np.ndarray | None, np.ndarray]]) -> FeatureSet:
    """Newly encoded (track id, features, tags or None, segment starts) as one FeatureSet."""
    feats = [f for _, f, _, _ in pending]
    n_tags = len(encoder.tag_names)
    tags = [g if g is not None else np.zeros((len(f), n_tags), np.float32)
            for (_, f, g, _) in pending]
    counts = [len(f) for f in feats]
    return FeatureSet(
        encoder.name, dataset, np.array([t for t, _, _, _ in pending], dtype=str),
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        np.concatenate(feats).astype(np.float32), np.concatenate(tags).astype(np.float32),
        np.concatenate([s for _, _, _, s in pending]).astype(np.float32),
        tuple(encoder.tag_names))
