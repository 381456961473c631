"""Metrics against scikit-learn and hand-worked examples."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from emoalign.learn import metrics


def test_top_k_and_ties():
    scores = np.array([[0.1, 0.9, 0.5, 0.5], [0.3, 0.2, 0.1, 0.0]])
    assert metrics.top_k(scores, 2).tolist() == [[False, True, True, False],
                                                  [True, True, False, False]]
    assert metrics.top_k(scores, 10).all()


def test_vote_top_k_breaks_ties_by_mean():
    seg = np.array([[0.9, 0.8, 0.0], [0.0, 0.5, 0.6], [0.0, 0.1, 0.7]])
    # top-1 votes: label 0, label 2, label 2 -> label 2 wins
    assert metrics.vote_top_k(seg, 1).tolist() == [False, False, True]
    # top-2 votes: {0,1}, {2,1}, {2,1} -> label 1 (3 votes), label 2 (2 votes)
    assert metrics.vote_top_k(seg, 2).tolist() == [False, True, True]
    tie = np.array([[0.9, 0.0], [0.0, 0.5]])  # one vote each; label 0 has the higher mean
    assert metrics.vote_top_k(tie, 1).tolist() == [True, False]


def test_macro_f1_matches_sklearn_by_hand_and_random():
    y_true = np.array([[1, 0, 1], [0, 1, 1], [1, 0, 0]], bool)
    y_pred = np.array([[1, 0, 0], [1, 0, 1], [1, 0, 0]], bool)
    # label 0: tp 2 fp 1 fn 0 -> 0.8 ; label 1: tp 0 -> 0 ; label 2: tp 1 fn 1 -> 2/3
    assert metrics.macro_f1(y_true, y_pred) == pytest.approx((0.8 + 0 + 2 / 3) / 3)
    rng = np.random.default_rng(0)
    for _ in range(5):
        y_true = rng.random((40, 9)) < 0.3
        y_pred = metrics.top_k(rng.random((40, 9)), 3)
        assert metrics.macro_f1(y_true, y_pred) == pytest.approx(
            f1_score(y_true, y_pred, average="macro", zero_division=0))


def test_macro_f1_skips_labels_absent_from_truth():
    y_true = np.array([[1, 0], [1, 0]], bool)
    y_pred = np.array([[1, 1], [1, 0]], bool)
    assert metrics.macro_f1(y_true, y_pred) == pytest.approx(1.0)  # label 1 never true: left out
    assert metrics.per_label_f1(y_true, y_pred).tolist() == [1.0, 0.0]


def test_auc_matches_sklearn():
    rng = np.random.default_rng(1)
    y_true = rng.random((50, 5)) < 0.4
    scores = rng.normal(size=(50, 5)) + y_true
    roc, pr = metrics.macro_auc(y_true, scores)
    assert roc == pytest.approx(roc_auc_score(y_true, scores, average="macro"))
    assert pr == pytest.approx(average_precision_score(y_true, scores, average="macro"))


def test_evaluate_scores_perfect_and_baselines():
    labels = np.eye(3)
    truth = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]], bool)
    segment_scores = [np.repeat(labels[t.argmax()][None], 2, axis=0) for t in truth]
    means = np.stack([s.mean(axis=0) for s in segment_scores])
    result = metrics.evaluate_scores(segment_scores, means, truth, k=1, labels=["a", "b", "c"])
    for key in ("f1_segment", "f1_song_vote", "f1_song_mean", "roc_auc_song", "pr_auc_song"):
        assert result[key] == pytest.approx(1.0)
    assert result["n_segments"] == 8 and result["per_label_f1"] == {"a": 1.0, "b": 1.0, "c": 1.0}
    # always the most frequent label (a): F1 for a = 2*2/(2+4) = 2/3, b and c 0
    assert metrics.most_frequent_baseline(truth, truth, 1) == pytest.approx((2 / 3) / 3)
    assert 0.0 < metrics.random_baseline(truth, 1) < 0.6
