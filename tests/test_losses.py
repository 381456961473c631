"""The alignment loss and the regulariser on hand-made vectors (values computed by hand)."""

from __future__ import annotations

import math

import pytest
import torch

from emoalign.learn import losses


def unit(*v: float) -> torch.Tensor:
    t = torch.tensor(v, dtype=torch.float32)
    return t / t.norm()


def test_triplet_loss_by_hand():
    out = torch.stack([unit(1, 0), unit(1, 0)])
    pos = torch.stack([unit(1, 0), unit(0, 1)])  # cos 1, cos 0
    neg = torch.stack([unit(0, 1), unit(1, 1)])  # cos 0, cos 1/sqrt(2)
    # sample 1: max(0, 0 - 1 + 1) = 0 ; sample 2: max(0, 0.7071 - 0 + 1) = 1.7071
    expected = (0.0 + (1 / math.sqrt(2) + 1.0)) / 2
    loss = losses.triplet_alignment_loss(out, pos, neg, margin=1.0)
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    # a small margin lets the satisfied sample contribute nothing and the other 0.7071 + 0.1
    assert losses.triplet_alignment_loss(out, pos, neg, margin=0.1).item() == pytest.approx(
        (1 / math.sqrt(2) + 0.1) / 2, abs=1e-6)


def test_positive_centroid_is_mean_of_positive_labels():
    targets = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    positive = torch.tensor([[True, True, False], [False, False, True]])
    got = losses.positive_centroids(targets, positive)
    assert torch.allclose(got, torch.tensor([[0.5, 0.5, 0], [0, 0, 1.0]]))
    with pytest.raises(ValueError):
        losses.positive_centroids(targets, torch.zeros(1, 3, dtype=torch.bool))


def test_random_negatives_respect_positives_and_allowed():
    targets = torch.eye(4)
    positive = torch.tensor([[True, False, False, False]] * 3)
    allowed = torch.tensor([[True, True, True, False]] * 3)  # label 3 belongs to another dataset
    neg = losses.random_negatives(targets, positive, allowed, n_negatives=5,
                                  generator=torch.Generator().manual_seed(0))
    # only labels 1 and 2 are candidates; with 5 requested both are drawn: mean (0, .5, .5, 0)
    assert torch.allclose(neg, torch.tensor([[0, 0.5, 0.5, 0]] * 3))
    one = losses.random_negatives(targets, positive, allowed, n_negatives=1,
                                  generator=torch.Generator().manual_seed(0))
    assert ((one[:, 1] == 1) ^ (one[:, 2] == 1)).all() and (one[:, [0, 3]] == 0).all()


def test_in_batch_hard_negative_picks_the_closest_disjoint_sample():
    anchors = torch.stack([unit(1, 0), unit(0, 1), unit(1, 1)])
    positive = torch.tensor([[1, 0, 0], [0, 1, 0], [1, 0, 1]], dtype=torch.bool)
    outputs = torch.stack([unit(1, 0.1), unit(0.2, 1), unit(1, 0)])
    neg, valid = losses.in_batch_hard_negatives(outputs, anchors, positive)
    # sample 0 shares label 0 with sample 2, so only sample 1 is disjoint from it
    assert torch.equal(neg[0], anchors[1])
    # sample 1 is disjoint from 0 and 2; its output (0.2, 1) is closer to (1,1) than to (1,0)
    assert torch.equal(neg[1], anchors[2])
    assert torch.equal(neg[2], anchors[1])
    assert valid.all()
    _, valid = losses.in_batch_hard_negatives(outputs[:1], anchors[:1], positive[:1])
    assert not valid.any()


def test_alignment_loss_is_zero_when_aligned_with_small_margin():
    targets = torch.eye(3)
    positive = torch.eye(3, dtype=torch.bool)
    loss = losses.alignment_loss(targets.clone(), targets, positive, margin=0.5, n_negatives=2)
    # cos(pos) = 1, every negative (a mean of other axes) has cos 0: max(0, 0 - 1 + 0.5) = 0
    assert loss.item() == 0.0
    loss = losses.alignment_loss(targets.clone(), targets, positive, margin=1.0, n_negatives=2,
                                 hard_weight=0.0)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)  # exactly at the margin


def test_alignment_loss_has_gradient_towards_positive():
    targets = torch.eye(2)
    positive = torch.tensor([[True, False]])
    out = unit(0, 1).unsqueeze(0).requires_grad_(True)
    loss = losses.alignment_loss(out, targets, positive, n_negatives=1, hard_weight=0.0)
    assert loss.item() == pytest.approx(2.0)  # cos(neg) 1 - cos(pos) 0 + margin 1
    loss.backward()
    assert out.grad[0, 0] < 0  # descent moves the output towards the positive axis


def test_regularizer_mean_cosine_over_cross_cluster_pairs():
    outputs = torch.stack([unit(1, 0), unit(1, 0), unit(0, 1), unit(1, 1)])
    clusters = torch.tensor([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 1]], dtype=torch.bool)
    # cross pairs (ordered): (0,2),(0,3),(1,2),(1,3) and reverses; (2,3) share cluster 1
    expected = (0 + 1 / math.sqrt(2) + 0 + 1 / math.sqrt(2)) / 4
    reg = losses.alignment_regularizer(outputs, clusters)
    assert reg.item() == pytest.approx(expected, abs=1e-6)


def test_regularizer_zero_without_cross_pairs_and_pushes_apart():
    clusters = torch.ones(3, 2, dtype=torch.bool)
    assert losses.alignment_regularizer(torch.randn(3, 4), clusters).item() == 0.0
    out = torch.stack([unit(1, 0.2), unit(1, -0.2)]).requires_grad_(True)
    reg = losses.alignment_regularizer(out, torch.tensor([[True, False], [False, True]]))
    reg.backward()
    # minimising the cosine pushes the first output up and the second down in y
    assert out.grad[0, 1] < 0 and out.grad[1, 1] > 0
