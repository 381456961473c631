"""musicnn's network on ONNX Runtime: the CPU fast path of `MusicnnEncoder`.

The network exported from the shipped safetensors by tools/export_musicnn_onnx.py into
assets/encoders/<model>_musicnn.onnx, with its front-end filters factored to low rank on real
audio (tools/musicnn_lowrank.py: each 7 x 38 and 7 x 67 timbral bank of 204 filters becomes
64 or 80 filters and a 1 x 1 mix; outputs within ~2e-5 of PyTorch on held-out real clips,
calibrated scores within 0.001). It takes ~37 % less CPU than the full float32
network did (1.0 instead of 1.6 CPU-s per 3-minute song, one thread), and its wall
time stays steady when other processes compete for the cores. An .onnx is used only when the
SHA-256 of the safetensors it was built from (its `source_sha256` metadata) matches the
shipped file, so a stale export cannot give other numbers. Without onnxruntime, or without a
matching file, the encoder runs PyTorch (the unfactored network).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..digest import file_digest

ONNX_OPSET = 17
log = logging.getLogger(__name__)


def onnx_runtime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxMusicnn:
    """One musicnn model on ONNX Runtime: (batch, 187, 96) float32 patches -> (logits, penultimate).

    threads: intra-op threads (ONNX Runtime's own pool). Threads do not spin while waiting, so
    an idle encoder costs no CPU on a shared machine.
    """

    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # warnings about unused initialisers are noise here
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])

    def __call__(self, patches) -> tuple[np.ndarray, np.ndarray]:
        """patches: a float32 array or CPU tensor."""
        logits, penultimate = self.session.run(
            None, {"mel": np.ascontiguousarray(patches, dtype=np.float32)})
        return logits, penultimate


def load_onnx_musicnn(path: Path, source: Path, threads: int) -> OnnxMusicnn | None:
    """The ONNX Runtime model in `path` exported from the weights in `source`, or None (no
    onnxruntime, no file, or a file exported from other weights)."""
    if not onnx_runtime_available() or not path.is_file():
        return None
    model = OnnxMusicnn(path, threads)
    recorded = model.session.get_modelmeta().custom_metadata_map.get("source_sha256")
    if recorded != file_digest(source):
        log.warning("%s was exported from other weights than %s; using PyTorch "
                    "(run tools/export_musicnn_onnx.py)", path.name, source.name)
        return None
    return model
