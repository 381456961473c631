"""What every encoder returns (`EncodedSegments`) and the device it runs on by default.

Encoder implementations (musicnn.py, mert.py) import from here, not from the registry in
encoders.py, so the registry can import them without a circle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class EncodedSegments:
    features: np.ndarray  # (n_segments, feature_dim) float32
    tags: np.ndarray | None = None  # (n_segments, len(tag_names)) probabilities, or None


def default_device() -> str:
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"
