"""Audio encoders behind one registry: `available_encoders()` and `load_encoder(name, device)`.

An encoder turns 10-second mono segments at its own sample rate into one feature vector per
segment, and optionally into interpretable tag probabilities.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from .segments import EncodedSegments

DEFAULT_ENCODER = "musicnn"


class Encoder(Protocol):
    name: str
    sample_rate: int  # Hz the segments must be at
    feature_dim: int
    tag_names: tuple[str, ...]  # empty when the encoder has no tag head

    def encode(self, segments: np.ndarray,
               progress: Callable[[float], None] | None = None) -> EncodedSegments:
        """(n_segments, samples) float32 at `sample_rate` -> features (and tags)."""
        ...


def _load_musicnn(device: str | None, **kwargs) -> Encoder:
    from .musicnn import MusicnnEncoder
    return MusicnnEncoder(device=device, **kwargs)


def _load_mert(device: str | None, **kwargs) -> Encoder:
    from .mert import MertEncoder
    return MertEncoder(device=device, **kwargs)


_ENCODERS: dict[str, Callable[..., Encoder]] = {
    "musicnn": _load_musicnn,
    "mert-v1-95m": _load_mert,
}


def available_encoders() -> list[str]:
    """Names accepted by `load_encoder`; the first is the offline default."""
    return list(_ENCODERS)


def load_encoder(name: str = DEFAULT_ENCODER, device: str | None = None, **kwargs) -> Encoder:
    """Load an encoder by name. `device` None picks CUDA when present, else CPU."""
    if name not in _ENCODERS:
        raise ValueError(f"Unknown encoder {name!r}; available: {', '.join(_ENCODERS)}")
    return _ENCODERS[name](device, **kwargs)
