"""Sound in, features out: decoding any audio file into bounded mono samples (`load`,
`decoding`), 10-s segments, the encoders that turn segments into features (musicnn on ONNX
Runtime or PyTorch, MERT; the registry in `encoders`, what they return in `segments`) and the
tonal features (mode, key, rhythm). It imports nothing else from emoalign but the floor
(`paths`, `cache`, `digest`, `lazy`)."""

from ..lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "AudioError": "load", "load_audio": "load", "prepare_audio": "load",
    "split_segments": "load", "silent_segments": "load", "SEGMENT_SECONDS": "load",
    "EncodedSegments": "segments", "Encoder": "encoders",
    "available_encoders": "encoders", "load_encoder": "encoders",
    "segment_tonal_features": "tonal",
})
