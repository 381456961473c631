"""Evaluation: top-k predictions from cosine scores, macro-F1, ROC-AUC, PR-AUC.

Shapes: N items (segments or songs), L labels. ``y_true`` (N, L) bool, ``scores`` (N, L)
float (cosines), predictions (N, L) bool.

Conventions (as in the paper): a song's prediction is its top-k labels; macro-F1 averages the
per-label F1 over the labels with at least one positive in ``y_true`` (a label that is never
predicted scores 0; labels absent from the evaluated items are left out because their F1 and
AUCs are undefined). Song level comes two ways: each segment votes its top-k and the song takes
the k most-voted labels (ties broken by the mean cosine), or the song's mean embedding is
scored once.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """(N, L) scores -> (N, L) bool with the k highest per row (ties: lower index first)."""
    scores = np.asarray(scores)
    k = min(k, scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    out = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(out, order, True, axis=1)
    return out


def vote_top_k(segment_scores: np.ndarray, k: int) -> np.ndarray:
    """(S, L) cosines of one song's segments -> (L,) bool: each segment votes its top-k, the
    song takes the k most-voted labels, ties broken by the mean cosine."""
    votes = top_k(segment_scores, k).sum(axis=0).astype(np.float64)
    mean = segment_scores.mean(axis=0)
    # Votes are integers; the mean cosine (in [-1, 1]) only breaks ties.
    return top_k((votes + (mean + 1.0) / 4.0)[None], k)[0]


def per_label_f1(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """(L,) F1 per label; 0 where the label is never predicted or never true."""
    y_true, y_pred = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    tp = (y_true & y_pred).sum(axis=0)
    denom = y_true.sum(axis=0) + y_pred.sum(axis=0)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean per-label F1 over the labels that occur in `y_true`."""
    present = np.asarray(y_true, bool).any(axis=0)
    return float(per_label_f1(y_true, y_pred)[present].mean())


def macro_auc(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(macro ROC-AUC, macro PR-AUC = average precision) over labels with both classes present."""
    y_true = np.asarray(y_true, bool)
    both = y_true.any(axis=0) & ~y_true.all(axis=0)
    if not both.any():
        return float("nan"), float("nan")
    roc = roc_auc_score(y_true[:, both], scores[:, both], average="macro")
    pr = average_precision_score(y_true[:, both], scores[:, both], average="macro")
    return float(roc), float(pr)


def evaluate_scores(segment_scores: list[np.ndarray], song_mean_scores: np.ndarray,
                    y_true: np.ndarray, k: int, labels: list[str] | None = None) -> dict:
    """Every metric for one model on one labelled set of songs.

    segment_scores: per song (S_i, L) cosines of its segments; song_mean_scores: (N, L)
    cosines of each song's normalised mean embedding; y_true: (N, L) bool song labels.
    Returns a dict of floats (plus per-label F1 for the voted songs when `labels` is given).
    """
    y_true = np.asarray(y_true, bool)
    seg_true = np.concatenate([np.repeat(y[None], len(s), axis=0)
                               for y, s in zip(y_true, segment_scores)])
    seg_scores = np.concatenate(segment_scores)
    voted = np.stack([vote_top_k(s, k) for s in segment_scores])
    by_mean = top_k(song_mean_scores, k)
    seg_roc, seg_pr = macro_auc(seg_true, seg_scores)
    roc, pr = macro_auc(y_true, song_mean_scores)
    result = {
        "k": k,
        "n_songs": int(len(y_true)),
        "n_segments": int(len(seg_true)),
        "f1_segment": macro_f1(seg_true, top_k(seg_scores, k)),
        "f1_song_vote": macro_f1(y_true, voted),
        "f1_song_mean": macro_f1(y_true, by_mean),
        "roc_auc_segment": seg_roc,
        "pr_auc_segment": seg_pr,
        "roc_auc_song": roc,
        "pr_auc_song": pr,
    }
    if labels is not None:
        result["per_label_f1"] = dict(zip(labels, per_label_f1(y_true, voted).round(4).tolist()))
    return result


def most_frequent_baseline(train_true: np.ndarray, y_true: np.ndarray, k: int) -> float:
    """Macro-F1 of always predicting the k labels most frequent in `train_true`."""
    freq = np.asarray(train_true, bool).sum(axis=0)
    pred = np.repeat(top_k(freq[None].astype(float), k), len(y_true), axis=0)
    return macro_f1(y_true, pred)


def random_baseline(y_true: np.ndarray, k: int, n_draws: int = 100, seed: int = 0) -> float:
    """Mean macro-F1 of predicting k labels uniformly at random (over `n_draws` draws)."""
    rng = np.random.default_rng(seed)
    y_true = np.asarray(y_true, bool)
    return float(np.mean([macro_f1(y_true, top_k(rng.random(y_true.shape), k))
                          for _ in range(n_draws)]))


def class_shares(predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes,) share of items predicted as each class 1..n_classes. A model whose
    largest share exceeds 0.5 on a balanced set is broken, whatever its accuracy."""
    predicted = np.asarray(predicted, int)
    return np.bincount(predicted - 1, minlength=n_classes)[:n_classes] / max(len(predicted), 1)


def quadrant_metrics(true_quadrant: np.ndarray, predicted: np.ndarray) -> dict:
    """Top-1 accuracy, macro-F1 and the predicted shares for Russell quadrants 1..4."""
    true_quadrant, predicted = np.asarray(true_quadrant, int), np.asarray(predicted, int)
    eye = np.eye(5, dtype=bool)[:, 1:]
    shares = class_shares(predicted, 4)
    return {"accuracy": float((true_quadrant == predicted).mean()),
            "macro_f1": macro_f1(eye[true_quadrant], eye[predicted]),
            "shares": shares.round(3).tolist(), "max_share": float(shares.max())}


def continuous_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """ROC-AUC of `predicted` for truth > 0 vs truth < 0 (exact zeros left out) and the
    Spearman rank correlation with `truth` (NaN truth left out)."""
    from scipy.stats import spearmanr

    truth, predicted = np.asarray(truth, float), np.asarray(predicted, float)
    known = ~np.isnan(truth)
    signed = known & (truth != 0)
    both = signed.any() and len(np.unique(truth[signed] > 0)) == 2
    auc = roc_auc_score(truth[signed] > 0, predicted[signed]) if both else float("nan")
    rho = spearmanr(truth[known], predicted[known]).statistic if known.sum() > 2 else float("nan")
    return {"roc_auc": float(auc), "spearman": float(rho)}


def quadrant_baselines(true_quadrant: np.ndarray, train_quadrant: np.ndarray) -> dict:
    """Macro-F1 of always the training sets' most frequent quadrant, and of uniform guessing."""
    eye = np.eye(5, dtype=bool)[:, 1:]
    truth = eye[np.asarray(true_quadrant, int)]
    common = int(np.bincount(np.asarray(train_quadrant, int), minlength=5)[1:].argmax()) + 1
    return {"most_frequent": macro_f1(truth, eye[np.full(len(truth), common)]),
            "random": random_baseline(truth, 1)}
