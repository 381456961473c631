"""Training losses in the shared embedding space (all similarities are cosines).

Notation: N samples (segments), T targets (labels, or cluster centres), E = 384.
``outputs`` (N, E) are adapter outputs, ``targets`` (T, E) the target embeddings,
``positive`` (N, T) bool marks each sample's positive targets and ``allowed`` (N, T) bool the
targets a sample may be contrasted with (its own dataset's vocabulary).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def positive_centroids(targets: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """(N, E): the mean embedding of each sample's positive targets (the paper's positive)."""
    weights = positive.float()
    counts = weights.sum(dim=1, keepdim=True)
    if (counts == 0).any():
        raise ValueError("every sample needs at least one positive target")
    return weights @ targets / counts


def triplet_alignment_loss(outputs: torch.Tensor, anchor_positive: torch.Tensor,
                           anchor_negative: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """mean_i max(0, cos(o_i, neg_i) - cos(o_i, pos_i) + margin) over rows of (N, E) tensors."""
    pos = F.cosine_similarity(outputs, anchor_positive, dim=-1)
    neg = F.cosine_similarity(outputs, anchor_negative, dim=-1)
    return torch.relu(neg - pos + margin).mean()


def random_negatives(targets: torch.Tensor, positive: torch.Tensor, allowed: torch.Tensor | None,
                     n_negatives: int = 5,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, E): mean of up to `n_negatives` targets drawn per sample, without replacement, from
    the allowed targets that are not positive (the paper's negative)."""
    candidates = ~positive.bool()
    if allowed is not None:
        candidates &= allowed.bool()
    if not candidates.any(dim=1).all():
        raise ValueError("a sample has no negative candidates")
    # Random keys, -inf for non-candidates: the top n are a uniform draw from the candidates.
    keys = torch.rand(candidates.shape, generator=generator, device=candidates.device)
    keys = keys.masked_fill(~candidates, -1.0)
    n = min(n_negatives, candidates.shape[1])
    chosen = torch.zeros_like(candidates)
    chosen.scatter_(1, keys.topk(n, dim=1).indices, True)
    chosen &= candidates
    return positive_centroids(targets, chosen)


def in_batch_hard_negatives(outputs: torch.Tensor, anchor_positive: torch.Tensor,
                            positive: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sample, the positive centroid of another sample in the batch that shares no
    positive target with it and is closest to its output (the hardest in-batch negative).

    Returns (negatives (N, E), valid (N,) bool); `valid` is False where no sample in the batch
    is disjoint from it."""
    pos = positive.float()
    disjoint = (pos @ pos.T) == 0  # (N, N); the diagonal is never disjoint
    sims = F.normalize(outputs, dim=-1) @ F.normalize(anchor_positive, dim=-1).T
    sims = sims.masked_fill(~disjoint, float("-inf"))
    hardest = sims.argmax(dim=1)
    return anchor_positive[hardest], disjoint.any(dim=1)


def alignment_loss(outputs: torch.Tensor, targets: torch.Tensor, positive: torch.Tensor,
                   allowed: torch.Tensor | None = None, margin: float = 1.0,
                   n_negatives: int = 5, hard_weight: float = 1.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """The cosine triplet alignment loss.

    Positive = mean embedding of the sample's positive targets. Negative = mean of
    `n_negatives` random allowed non-positive targets (the paper). With `hard_weight` > 0 a
    second triplet term uses the hardest in-batch negative (`in_batch_hard_negatives`),
    averaged over the samples that have one, and is added with that weight.
    """
    anchor = positive_centroids(targets, positive)
    negative = random_negatives(targets, positive, allowed, n_negatives, generator)
    loss = triplet_alignment_loss(outputs, anchor, negative, margin)
    if hard_weight > 0:
        hard, valid = in_batch_hard_negatives(outputs, anchor, positive)
        if valid.any():
            loss = loss + hard_weight * triplet_alignment_loss(
                outputs[valid], anchor[valid], hard[valid], margin)
    return loss


def alignment_regularizer(outputs: torch.Tensor, clusters: torch.Tensor) -> torch.Tensor:
    """The paper's alignment regulariser (before the weight lambda): the mean cosine similarity
    over all pairs of samples whose label clusters differ, i.e. whose cluster sets (N, C) bool
    share no cluster. Minimising it pushes those outputs apart. 0 when there is no such pair."""
    c = clusters.float()
    cross = (c @ c.T) == 0
    cross.fill_diagonal_(False)
    if not cross.any():
        return outputs.new_zeros(())
    unit = F.normalize(outputs, dim=-1)
    return (unit @ unit.T)[cross].mean()
