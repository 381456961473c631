"""What words mean to the model: the labels an adapter was trained on, the built-in labels'
clusters, and where any word sits among them (`explain`). Pure functions over the text model;
the pipeline calls them."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..text.clusters import PAPER_BANDWIDTH, PAPER_QUANTILE, LabelClusters, label_clusters
from ..text.labels import available_label_sets, load_label_set, parse_words
from .results import WordExplanation
from .valence_arousal import CIRCUMPLEX

FAMILIAR_SIMILARITY = 0.5  # a word this close (cosine) to a trained label is in known territory


def trained_labels(card: dict) -> list[str]:
    """The labels an adapter was trained on, from its card."""
    names = card.get("label_sets") or []
    if isinstance(names, dict):
        names = list(names)
    custom = {"circumplex": list(CIRCUMPLEX),  # the valence/arousal sets' words
              **(card.get("custom_label_sets") or {})}  # a folder's (learn/training.py)
    return list(dict.fromkeys(
        l for n in names for l in custom.get(n, load_label_set(n).labels
                                             if n in available_label_sets() else ())))


def builtin_clusters(text) -> LabelClusters:
    """All built-in labels at the paper's bandwidth: the quantile estimate over ~260 labels is
    so wide that most of them would land in one cluster."""
    labels = list(load_label_set("all").labels)
    return label_clusters(labels, text.embed(labels, described=False), bandwidth=PAPER_BANDWIDTH)


def explain(text, word: str, clusters: LabelClusters, trained: list[str], k: int = 5
            ) -> WordExplanation:
    """A word's nearest built-in labels (with their clusters) and how close it is to the
    labels the adapter was trained on (`trained`; all built-in labels when empty)."""
    (word,) = parse_words([word], max_words=1)
    vector = text.embed([word])[0]
    similarity = clusters.embeddings @ vector
    owner = label_set_of()
    nearest = [(clusters.labels[i], owner[clusters.labels[i]], round(float(similarity[i]), 4),
                clusters.cluster_of(clusters.labels[i])) for i in np.argsort(-similarity)[:k]]
    known = float((text.embed(trained or clusters.labels) @ vector).max())
    familiar = known >= FAMILIAR_SIMILARITY
    warning = None if familiar else (
        f"'{word}' is far from every label the model was trained on (best cosine "
        f"{known:.2f} < {FAMILIAR_SIMILARITY}); treat its score with caution.")
    return WordExplanation(word, nearest, round(known, 4), familiar, warning)


def clusters(text, label_sets=("mtg", "cal500"), words: str | list[str] = (),
             bandwidth: float | None = None, quantile: float = PAPER_QUANTILE) -> LabelClusters:
    """Mean Shift clusters over built-in vocabularies plus custom words."""
    labels = [l for n in label_sets for l in load_label_set(n).labels]
    if words:
        labels += parse_words(words)
    labels = list(dict.fromkeys(labels))
    if not labels:
        raise ValueError("Pick at least one label set or type some words.")
    return label_clusters(labels, text.embed(labels, described=False), bandwidth, quantile)


@lru_cache(maxsize=None)
def label_set_of() -> dict[str, str]:
    """Built-in label -> the first built-in vocabulary that has it."""
    return {l: n for n in reversed(available_label_sets()) for l in load_label_set(n).labels}
