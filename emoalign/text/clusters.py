"""Label clusters: Mean Shift over label embeddings, across any mix of vocabularies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAPER_QUANTILE = 0.03  # the paper's quantile for MTG + CAL500
PAPER_BANDWIDTH = 0.7736  # what that quantile gave the paper on MTG + CAL500 (Table 10)
# Below this, sklearn's neighbour search loses seeds to rounding and merges unrelated labels
# (the reference's 22 and 62 Emotify "clusters" at bandwidth 1e-8); any bandwidth this small
# already means "every label its own cluster".
MIN_BANDWIDTH = 1e-3
NAME_WORDS = 2  # a cluster is named by its most central labels


@dataclass
class LabelClusters:
    labels: list[str]
    embeddings: np.ndarray  # (n_labels, 384)
    assignments: np.ndarray  # (n_labels,) cluster index of each label
    centres: np.ndarray  # (n_clusters, 384), not normalised (Mean Shift modes)
    bandwidth: float

    @property
    def n_clusters(self) -> int:
        return len(self.centres)

    def groups(self) -> list[list[str]]:
        """Labels of each cluster, largest cluster first."""
        groups = [[l for l, a in zip(self.labels, self.assignments) if a == c]
                  for c in range(self.n_clusters)]
        return sorted(groups, key=len, reverse=True)

    def named_groups(self, words: int = NAME_WORDS) -> list[tuple[str, list[str]]]:
        """(name, labels) of each cluster, largest first, its labels most central first (by
        cosine to their mean embedding). The name is the first `words` distinct words of those
        labels, and "+n" for the n labels it leaves out: "loving / romantic +2" for
        ["loving, romantic", "romantic", "love", "touching, loving"]."""
        named = []
        for c in range(self.n_clusters):
            members = np.flatnonzero(self.assignments == c)
            vectors = self.embeddings[members]
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)
            order = np.argsort(-(vectors @ vectors.mean(axis=0)), kind="stable")
            group = [self.labels[members[i]] for i in order]
            named.append((cluster_name(group, words), group))
        return sorted(named, key=lambda pair: len(pair[1]), reverse=True)

    def cluster_of(self, label: str) -> list[str]:
        """The labels that share `label`'s cluster (itself included)."""
        cluster = self.assignments[self.labels.index(label)]
        return [l for l, a in zip(self.labels, self.assignments) if a == cluster]


def label_words(label: str) -> list[str]:
    """The words of a label: "touching, loving" -> ["touching", "loving"]."""
    return [w.strip() for w in label.split(",") if w.strip()] or [label]


def cluster_name(group: list[str], words: int = NAME_WORDS) -> str:
    """A group of labels (most central first) in a few words, "+n" for labels left out."""
    name = list(dict.fromkeys(w for label in group for w in label_words(label)))[:words]
    rest = sum(not set(label_words(label)) <= set(name) for label in group)
    return " / ".join(name) + (f" +{rest}" if rest else "")


def paper_bandwidth(embeddings: np.ndarray, quantile: float = PAPER_QUANTILE) -> float:
    """The paper's bandwidth estimate: sklearn's quantile estimate over all labels."""
    from sklearn.cluster import estimate_bandwidth  # imported here: sklearn costs ~1 s at start-up
    return float(estimate_bandwidth(embeddings, quantile=quantile, n_samples=len(embeddings)))


def label_clusters(labels: list[str], embeddings: np.ndarray, bandwidth: float | None = None,
                   quantile: float = PAPER_QUANTILE) -> LabelClusters:
    """Group labels by Mean Shift; `bandwidth` None estimates it from `quantile`.

    Duplicated labels (the same string in two vocabularies) are clustered once.
    """
    labels = list(dict.fromkeys(labels))
    if len(embeddings) != len(labels):
        raise ValueError("labels must be distinct and match embeddings row for row")
    if len(labels) < 2:
        return LabelClusters(labels, embeddings, np.zeros(len(labels), int), embeddings.copy(),
                             float(bandwidth or 0.0))
    if bandwidth is None:
        bandwidth = paper_bandwidth(embeddings, quantile)
    if not (np.isfinite(bandwidth) and bandwidth > 0):
        raise ValueError(f"The bandwidth must be a positive number (the paper's: "
                         f"{PAPER_BANDWIDTH}), not {bandwidth}.")
    from sklearn.cluster import MeanShift
    shift = MeanShift(bandwidth=max(bandwidth, MIN_BANDWIDTH)).fit(embeddings)
    return LabelClusters(labels, embeddings, shift.labels_.astype(int), shift.cluster_centers_,
                         float(bandwidth))
