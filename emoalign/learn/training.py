"""Training the alignment adapter on cached encoder features.

Read top to bottom: the configuration, the data a run trains on, and the loop. AdamW,
ReduceLROnPlateau on validation macro-F1, early stopping, fixed seeds, model selection on the
training datasets' validation splits only. The datasets are in `datasets`, the feature cache
in `features`, scoring in `evaluation`, and the whole job (`run_training`) in `runs`.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Callable

import numpy as np
import torch

from . import losses
from ..answer.adapter import Adapter, AdapterConfig, pad_batch
from ..answer.calibration import equal_shares
from ..text.clusters import PAPER_BANDWIDTH
from .datasets import CUSTOM_PREFIX, DATASETS, DatasetSpec, Tracks, ground_truth, load_tracks
from .evaluation import EvalSet, TextCache, eval_set, validation_f1
from .features import FeatureSet, Stopped, load_features


# ---------------------------------------------------------------------------------------------
# Configuration


MAX_EPOCHS = 1000  # a bound on what a visitor can ask for (early stopping ends most runs)


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
    balanced: bool = False  # sample every collection (4q, emotify, vgmidi, ...) equally often

    def __post_init__(self) -> None:
        self.datasets = tuple(self.datasets)
        self.train_splits = tuple(self.train_splits)
        unknown = [d for d in self.datasets
                   if d not in DATASETS and not re.fullmatch(CUSTOM_PREFIX + "[0-9a-f]{10}", d)]
        if unknown or not self.datasets:
            raise ValueError(f"datasets must be among {list(DATASETS)} or folder datasets "
                             f"({CUSTOM_PREFIX}...), got {self.datasets}")
        if self.targets not in ("labels", "clusters"):
            raise ValueError(f"targets must be 'labels' or 'clusters', got {self.targets!r}")
        if not (math.isfinite(self.lam) and self.lam >= 0):
            raise ValueError(f"lambda must be a number of at least 0, not {self.lam}.")
        if self.bandwidth is not None and not (math.isfinite(self.bandwidth)
                                               and self.bandwidth > 0):
            raise ValueError(f"The cluster bandwidth must be a positive number (the paper's: "
                             f"{PAPER_BANDWIDTH}), not {self.bandwidth}.")
        if not 1 <= self.max_epochs <= MAX_EPOCHS:
            raise ValueError(f"Epochs must be from 1 to {MAX_EPOCHS}, not {self.max_epochs}.")
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
    collections: np.ndarray | None = None  # (N,) str: the collection each song comes from

    def sampling_weights(self, balanced: bool) -> np.ndarray | None:
        """(N,) probabilities that give every collection the same share of an epoch, or None."""
        if not balanced or self.collections is None:
            return None
        return equal_shares(self.collections)


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
    # bare labels: describing words are for scoring (text.py); training on them merged Mean
    # Shift clusters and cost in-domain F1
    embeddings = TextCache.embed(vocabulary, described=False)
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

    feats, positive, allowed, cluster_sets, collections = [], [], [], [], []
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
        collections += [spec.collection] * len(idx)
    validation = [eval_set(features[d], tracks[d], spec.label_set, config.select_split)
                  for d, spec in specs.items()]
    return RunData(np.asarray(targets, np.float32), names, vocabulary, assignments,
                   float(clustering.bandwidth),
                   SongSet(feats, np.array(positive), np.array(allowed), np.array(cluster_sets),
                           np.array(collections)),
                   validation, specs)


@lru_cache(maxsize=16)
def _clusters(vocabulary: tuple[str, ...], bandwidth: float | None, quantile: float):
    """Mean Shift over the vocabulary's embeddings, computed once per process and setting."""
    from ..text.clusters import label_clusters
    return label_clusters(list(vocabulary), TextCache.embed(list(vocabulary), described=False),
                          bandwidth=bandwidth, quantile=quantile)


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
    `should_stop()` is asked before every batch; True raises `features.Stopped`.

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
    weights = songs.sampling_weights(config.balanced)  # the same every epoch
    bar = tqdm(range(config.max_epochs), desc="train", disable=not progress, leave=False)
    for epoch in bar:
        adapter.train()
        order = (rng.permutation(len(songs.features)) if weights is None
                 else rng.choice(len(songs.features), len(songs.features), p=weights))
        totals = _train_epoch(adapter, songs, order, targets, config, optimizer, generator,
                              should_stop)
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


def _train_epoch(adapter, songs, order: np.ndarray, targets: torch.Tensor, config: TrainConfig,
                 optimizer, generator: torch.Generator,
                 should_stop: Callable[[], bool] | None) -> np.ndarray:
    """One pass over `order` (song indices) in batches; returns the mean [loss, align, reg]."""
    totals = np.zeros(3)
    for b in range(0, len(order), config.batch_songs):
        if should_stop is not None and should_stop():
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
    return totals
