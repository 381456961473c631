"""Scoring an adapter on a dataset's songs: song-level macro-F1 (segment votes), ROC-AUC,
PR-AUC, the trivial baselines, and the validation F1 that training selects models on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from . import metrics
from ..answer.adapter import Adapter, embed_songs
from .datasets import DATASETS, Tracks, ground_truth
from .features import FeatureSet


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
    def embed(cls, words: list[str], described: bool = True) -> np.ndarray:
        if cls._encoder is None:
            from ..text.encoder import TextEncoder
            cls._encoder = TextEncoder()
        return cls._encoder.embed(list(words), described)


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
