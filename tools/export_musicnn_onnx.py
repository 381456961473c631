"""Export the shipped musicnn weights to ONNX for the CPU fast path (`emoalign.musicnn_onnx`).

Reads assets/encoders/{mtt,msd}_musicnn.safetensors (never a pickle), builds the PyTorch
`Musicnn`, and writes assets/encoders/{mtt,msd}_musicnn.onnx: log-mel patches (batch, 187, 96)
-> tag logits (batch, 50), penultimate (batch, 200), float32, any batch size. The file records
the SHA-256 of the safetensors it came from (metadata `source_sha256`); the encoder uses an
.onnx only when that matches, so a stale export falls back to PyTorch instead of giving other
numbers. Then checks ONNX Runtime against PyTorch on random patches.

    pip install onnx==1.23.2        # the exporter needs it; the runtime only needs onnxruntime
    python tools/export_musicnn_onnx.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emoalign.musicnn import MODELS, N_MELS, PATCH_FRAMES, load_musicnn, weights_path  # noqa: E402
from emoalign.digest import file_digest  # noqa: E402
from emoalign.musicnn_onnx import ONNX_OPSET  # noqa: E402


def export(name: str) -> Path:
    import onnx

    model, _ = load_musicnn(name)
    path = weights_path(name, "onnx")
    example = torch.zeros(2, PATCH_FRAMES, N_MELS)
    with torch.no_grad():
        torch.onnx.export(model, (example,), str(path), input_names=["mel"],
                          output_names=["logits", "penultimate"],
                          dynamic_axes={"mel": {0: "batch"}, "logits": {0: "batch"},
                                        "penultimate": {0: "batch"}},
                          opset_version=ONNX_OPSET, dynamo=False)
    proto = onnx.load(str(path))
    source = weights_path(name)
    onnx.helper.set_model_props(proto, {"source": source.name,
                                        "source_sha256": file_digest(source)})
    onnx.save(proto, str(path))
    return path


def check(name: str) -> float:
    import onnxruntime as ort

    model, _ = load_musicnn(name)
    patches = np.random.default_rng(0).uniform(0, 4, (5, PATCH_FRAMES, N_MELS)).astype(np.float32)
    session = ort.InferenceSession(str(weights_path(name, "onnx")), providers=["CPUExecutionProvider"])
    logits, penultimate = session.run(None, {"mel": patches})
    with torch.inference_mode():
        expected = model(torch.from_numpy(patches))
    return max(float(np.abs(logits - expected[0].numpy()).max()),
               float(np.abs(penultimate - expected[1].numpy()).max()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = parser.parse_args()
    for name in args.models:
        path = export(name)
        print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB, "
              f"max |ONNX Runtime - PyTorch| = {check(name):.1e}")


if __name__ == "__main__":
    main()
