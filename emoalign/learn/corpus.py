"""The reference corpus built from the labelled datasets' feature caches, and the
valence/arousal head fitted on it (train/reference.py writes both into
assets/reference/<encoder>.safetensors; answer/calibration.py reads them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..answer.calibration import Calibrator, ReferenceCorpus
from ..answer.valence_arousal import PRODUCT_MODE, fit_va_head, quadrant_of
from .datasets import load_tracks, segment_valence_arousal, valence_arousal
from .features import load_features


def corpus_from_datasets(datasets: list[str], encoder: str = "musicnn",
                         splits: tuple[str, ...] = ("all",),
                         features_dir: str | Path | None = None, skip_uncached: bool = False
                         ) -> tuple[ReferenceCorpus, np.ndarray]:
    """The songs of `datasets` (their `splits`) from the encoder and tonal feature caches,
    with their known valence/arousal, and (segments, 2) per-segment valence/arousal targets
    (NaN where unknown). `datasets` of one collection (e.g. two renders of vgmidi) share its
    weight. With `skip_uncached`, tracks missing from either cache (an extraction still
    running) are left out and counted on stdout instead of raising KeyError."""
    ids, names, feats, tonal, seg_va, song_va = [], [], [], [], [], []
    for d in datasets:
        tracks = load_tracks(d)
        cache = load_features(encoder, d, features_dir)
        tonal_cache = load_features("tonal", d, features_dir)
        where = {t: i for i, t in enumerate(cache.track_ids.tolist())}
        where_tonal = {t: i for i, t in enumerate(tonal_cache.track_ids.tolist())}
        known = valence_arousal(tracks)
        wanted = np.unique(np.concatenate([tracks.subset(s) for s in splits]))
        cached = [i for i in wanted if tracks.ids[i] in where and tracks.ids[i] in where_tonal]
        if skip_uncached and len(cached) < len(wanted):
            print(f"{d}: skipped {len(wanted) - len(cached)} of {len(wanted)} tracks not yet in "
                  f"both the {encoder} and tonal feature caches")
            wanted = cached
        for i in wanted:
            t = tracks.ids[i]
            if t not in where or t not in where_tonal:
                raise KeyError(f"{d}/{t} is not in the {encoder} and tonal feature caches; "
                               f"run train/extract.py --dataset {d} (with --encoder tonal too)")
            a, b = cache.offsets[where[t]], cache.offsets[where[t] + 1]
            ta, tb = tonal_cache.offsets[where_tonal[t]], tonal_cache.offsets[where_tonal[t] + 1]
            if b - a != tb - ta:
                raise ValueError(f"{d}/{t}: {b - a} encoder segments but {tb - ta} tonal ones")
            ids.append(f"{d}/{t}")
            names.append(tracks.spec.collection)
            feats.append(cache.features[a:b])
            tonal.append(tonal_cache.features[ta:tb])
            seg_va.append(segment_valence_arousal(tracks, i, cache.starts[a:b]))
            song_va.append(known[i])
    if not feats:
        raise ValueError(f"none of {', '.join(datasets)} has tracks in both feature caches")
    counts = [len(f) for f in feats]
    song_va = np.array(song_va, float).reshape(-1, 2)
    quadrant = np.where(np.isnan(song_va).any(axis=1), 0,
                        quadrant_of(np.nan_to_num(song_va[:, 0]), np.nan_to_num(song_va[:, 1])))
    corpus = ReferenceCorpus(
        np.array(ids), np.array(names), np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        np.concatenate(feats).astype(np.float32), np.concatenate(tonal).astype(np.float32),
        encoder, valence=song_va[:, 0], arousal=song_va[:, 1], quadrant=quadrant)
    return corpus, np.concatenate(seg_va)


def segment_weights(corpus: ReferenceCorpus) -> np.ndarray:
    """(segments,) weights that give every collection the same total (for fitting heads)."""
    per_song = corpus.weights / np.diff(corpus.offsets)
    return np.repeat(per_song, np.diff(corpus.offsets))


PIANO_COLLECTIONS = ("vgmidi", "memomusic")  # solo piano: what the valence head's gate learns


def fit_corpus_head(corpus: ReferenceCorpus, segment_targets: np.ndarray, mode: str | None = None,
                    valence_subset: bool = True):
    """The valence/arousal head fitted on a corpus's segments. Targets are z-scored within
    each collection first (their scales differ: quadrant signs, measure means, 11-point
    ratings, vote shares), and every collection weighs the same. The gate learns the
    piano collections (`PIANO_COLLECTIONS`) from the rest."""
    z = np.full_like(segment_targets, np.nan, dtype=np.float64)
    names = np.repeat(corpus.datasets, np.diff(corpus.offsets))
    for name in np.unique(names):
        rows = names == name
        for j in range(2):
            y = segment_targets[rows, j]
            if np.isfinite(y).any():
                z[rows, j] = (y - np.nanmean(y)) / (np.nanstd(y) + 1e-9)
    return fit_va_head(corpus.features, corpus.tonal, z, segment_weights(corpus),
                       mode or PRODUCT_MODE, valence_subset=valence_subset,
                       piano=np.isin(names, PIANO_COLLECTIONS))


def corpus_targets(corpus: ReferenceCorpus) -> tuple[np.ndarray, np.ndarray]:
    """(segments, 2) valence/arousal targets of a stored corpus's segments (10-s segments from
    0 s, as extracted) and (N, 2) its songs' known valence/arousal, from the datasets' labels:
    what `corpus_from_datasets` knows, for a corpus read from a reference file (it needs the
    datasets' label files, not their audio)."""
    segments, songs, tracks = [], [], {}
    for k, song in enumerate(corpus.ids):
        dataset, track = str(song).split("/", 1)
        if dataset not in tracks:
            loaded = load_tracks(dataset)
            tracks[dataset] = (loaded, {t: i for i, t in enumerate(loaded.ids)},
                               valence_arousal(loaded))
        loaded, where, known = tracks[dataset]
        n = int(corpus.offsets[k + 1] - corpus.offsets[k])
        segments.append(segment_valence_arousal(loaded, where[track], np.arange(n) * 10.0))
        songs.append(known[where[track]])
    return np.concatenate(segments), np.array(songs, float)


def held_out_reader(corpus: ReferenceCorpus, segment_targets: np.ndarray, train: np.ndarray,
                    mode: str | None = None, tonal_share=None):
    """The head fitted on the songs `train` (a mask) of `corpus` and calibrated on them, and a
    function that reads any corpus against it: (N, 2) valence/arousal in [-1, 1]. What a
    held-out reading is, for train/reference.py's neutral band and bench/bench_answer.py."""
    fitted_on = corpus.select(train)
    head = fit_corpus_head(fitted_on, segment_targets[np.repeat(train, np.diff(corpus.offsets))],
                           mode)
    if tonal_share is not None:
        head.tonal_share = np.array(tonal_share, np.float32)
    calibrator = Calibrator(head.song_values(fitted_on.features, fitted_on.tonal,
                                             fitted_on.offsets), fitted_on.weights)
    return lambda c: calibrator.signed(head.song_values(c.features, c.tonal, c.offsets))
