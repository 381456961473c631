"""Low-rank front end for musicnn's ONNX export: the same network with fewer multiply-adds.

musicnn's front-end filters are nearly low-rank: the 204 timbral filters of 7 x 38 mel bins
span about 60 directions, the 51 temporal filters about 12. Each front-end convolution
W (out, k) becomes V (rank, k) then a 1 x 1 mix U (out, rank), chosen to keep what W does to
real spectrograms: with Sigma the covariance of the conv's input windows over real clips, the
rank-r truncation of the SVD of W Sigma^1/2 (the least-squares best over that data). The rank
is the smallest keeping all but `tolerance` of the output energy; a block whose rank saves
nothing stays as it is.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emoalign.audio.musicnn import ConvBlock, Musicnn

# ONNX Runtime's fast CPU convolutions work on blocks of 16 channels (NCHWc on AVX-512): a
# rank of 57 runs slower than one of 64, which also keeps more of the filters.
RANK_STEP = 16


class FactoredBlock(nn.Module):
    """A front-end ConvBlock whose convolution is V (rank filters) then a 1 x 1 mix U."""

    def __init__(self, block: ConvBlock, v: Tensor, u: Tensor):
        super().__init__()
        self.block = block  # kernel size, padding, bias, BatchNorm and its sign trick
        self.v = nn.Parameter(v.reshape(len(v), 1, *block.conv.kernel_size), requires_grad=False)
        self.u = nn.Parameter(u[:, :, None, None], requires_grad=False)

    @property
    def conv(self) -> nn.Conv2d:
        """The original convolution: Musicnn.forward pads by its kernel size."""
        return self.block.conv

    def max_over_frequency(self, x: Tensor) -> Tensor:
        """As ConvBlock.max_over_frequency (the sign trick included), through the factors."""
        sign = self.block.bn_sign()
        y = F.conv2d(F.conv2d(x, self.v, padding=self.block.conv.padding),
                     self.u * sign[:, None, None, None])
        return self.block.after_max(y.amax(dim=3), sign)


def front_inputs(model: Musicnn, mel: Tensor) -> list[Tensor]:
    """The input of each front-end block (timbral, then temporal) for (batch, 187, 96) mel."""
    x = model.input_bn(mel.unsqueeze(1))
    padded = [F.pad(x, (0, 0, (b.conv.kernel_size[0] - 1) // 2, b.conv.kernel_size[0] // 2))
              for b in model.temporal]
    return [x, x, *padded]


def window_covariance(block: ConvBlock, inputs: list[Tensor]) -> np.ndarray:
    """(k, k) second moment of the conv's input windows (k = kernel height x width)."""
    conv = block.conv
    k = conv.kernel_size[0] * conv.kernel_size[1]
    total, count = np.zeros((k, k)), 0
    for x in inputs:
        windows = F.unfold(x, conv.kernel_size, padding=conv.padding)  # (batch, k, positions)
        windows = windows.transpose(1, 2).reshape(-1, k).double()
        total += (windows.T @ windows).numpy()
        count += len(windows)
    return total / count


def factor(weight: np.ndarray, covariance: np.ndarray, tolerance: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """W (out, k) ~ U (out, r) @ V (r, k), best for inputs of this covariance; r is rounded up
    to a multiple of RANK_STEP."""
    values, vectors = np.linalg.eigh(covariance)
    values = np.maximum(values, values.max() * 1e-12)
    root, inverse_root = (vectors * np.sqrt(values)) @ vectors.T, \
        (vectors / np.sqrt(values)) @ vectors.T
    a, s, bt = np.linalg.svd(weight @ root, full_matrices=False)
    kept = 1 - np.cumsum(s ** 2) / np.sum(s ** 2)
    rank = int(np.searchsorted(-kept, -tolerance)) + 1
    rank = min(len(s), -(-rank // RANK_STEP) * RANK_STEP)
    return a[:, :rank] * s[:rank], bt[:rank] @ inverse_root


@torch.no_grad()
def factorise(model: Musicnn, mel: Tensor, tolerance: float) -> dict[str, int]:
    """Replace the front-end blocks of `model` by FactoredBlocks fitted on `mel` patches
    (batch, 187, 96) of real audio, in place. Returns {block: rank} (full rank: unchanged)."""
    batches = [front_inputs(model, chunk) for chunk in mel.split(32)]
    ranks = {}
    for group, offset in (("timbral", 0), ("temporal", 2)):
        blocks = getattr(model, group)
        for i, block in enumerate(blocks):
            conv = block.conv
            weight = conv.weight.reshape(conv.out_channels, -1).double().numpy()
            covariance = window_covariance(block, [b[offset + i] for b in batches])
            u, v = factor(weight, covariance, tolerance)
            rank, (out, k) = len(v), weight.shape
            ranks[f"{group}.{i}"] = rank
            if rank * (k + out) < out * k * 0.8:  # worth a second convolution
                blocks[i] = FactoredBlock(block, torch.from_numpy(v).float(),
                                          torch.from_numpy(u).float())
    return ranks
