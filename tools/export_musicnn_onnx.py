"""Export the shipped musicnn weights to ONNX for the CPU fast path (`emoalign.audio.musicnn_onnx`).

One command rebuilds assets/encoders/{mtt,msd}_musicnn.onnx:

    pip install onnx==1.23.2        # the exporter needs it; the runtime only needs onnxruntime
    python tools/export_musicnn_onnx.py

Reads assets/encoders/{mtt,msd}_musicnn.safetensors (never a pickle), builds the PyTorch
`Musicnn`, factors its front-end filters to low rank on real audio (tools/musicnn_lowrank.py:
a third fewer multiply-adds, outputs within ~1e-4 of the full network) and writes log-mel
patches (batch, 187, 96) -> tag logits (batch, 50), penultimate (batch, 200), float32, any
batch size. The factors are fitted on log-mel patches of train-split clips of Emotify, 4Q and
MemoMusic ($EMOALIGN_DATA or ../shared/data); the check uses validation-split clips. The file
records the SHA-256 of the safetensors it came from (metadata `source_sha256`) and the ranks;
the encoder uses an .onnx only when the SHA matches, so a stale export falls back to PyTorch.
`--full-rank` exports the unfactored network (no data needed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emoalign.audio.load import load_audio, split_segments  # noqa: E402
from emoalign.learn.datasets import load_tracks  # noqa: E402
from emoalign.digest import file_digest  # noqa: E402
from emoalign.audio.musicnn import (MODELS, N_MELS, PATCH_FRAMES, SAMPLE_RATE, load_musicnn,
                                    log_mel_spectrogram, patch_starts, weights_path)
from emoalign.audio.musicnn_onnx import ONNX_OPSET  # noqa: E402
from musicnn_lowrank import factorise  # noqa: E402

TOLERANCE = 1e-6  # output energy the low-rank front end may lose (seen: features within 1e-4)
FIT_CLIPS = {"emotify": 24, "4q": 24, "memomusic@audio": 8}  # clips per dataset, spread over it
FIT_PATCHES = 192  # enough for the (469 x 469) window covariances; more costs memory only


def real_patches(split: str, seed: int = 0) -> torch.Tensor:
    """(FIT_PATCHES, 187, 96) log-mel patches, as the encoder cuts them, of `split` clips."""
    patches = []
    for dataset, n in FIT_CLIPS.items():
        tracks = load_tracks(dataset)
        chosen = [p for p, s in zip(tracks.paths, tracks.splits) if s == split]
        for path in chosen[:: max(1, len(chosen) // n)][:n]:
            mel = log_mel_spectrogram(torch.from_numpy(
                split_segments(load_audio(path, SAMPLE_RATE), SAMPLE_RATE)))
            patches += [mel[:, s:s + PATCH_FRAMES] for s in patch_starts(mel.shape[1])]
    patches = torch.cat(patches)
    keep = np.random.default_rng(seed).choice(len(patches), min(FIT_PATCHES, len(patches)),
                                              replace=False)
    return patches[np.sort(keep)]


def export(name: str, fit: torch.Tensor | None) -> tuple[Path, dict[str, int]]:
    """Write assets/encoders/<name>_musicnn.onnx (low rank unless `fit` is None)."""
    import onnx

    model, _ = load_musicnn(name)
    ranks = factorise(model, fit, TOLERANCE) if fit is not None else {}
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
                                        "source_sha256": file_digest(source),
                                        "front_end_ranks": json.dumps(ranks)})
    onnx.save(proto, str(path))
    return path, ranks


def check(name: str, patches: torch.Tensor) -> float:
    """Max |ONNX Runtime - PyTorch| over logits and penultimate for `patches`."""
    import onnxruntime as ort

    model, _ = load_musicnn(name)
    session = ort.InferenceSession(str(weights_path(name, "onnx")),
                                   providers=["CPUExecutionProvider"])
    logits, penultimate = session.run(None, {"mel": patches.numpy()})
    with torch.inference_mode():
        expected = model(patches)
    return max(float(np.abs(logits - expected[0].numpy()).max()),
               float(np.abs(penultimate - expected[1].numpy()).max()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--full-rank", action="store_true",
                        help="export the unfactored network (slower; needs no audio)")
    args = parser.parse_args()
    torch.manual_seed(0)
    fit = None if args.full_rank else real_patches("train")
    held_out = real_patches("validation") if not args.full_rank else \
        torch.from_numpy(np.random.default_rng(0).uniform(0, 4, (5, PATCH_FRAMES, N_MELS))
                         .astype(np.float32))
    for name in args.models:
        path, ranks = export(name, fit)
        print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB, front-end ranks {ranks or 'full'}"
              f", max |ONNX Runtime - PyTorch| = {check(name, held_out):.1e} on "
              f"{'held-out real' if fit is not None else 'random'} patches")


if __name__ == "__main__":
    main()
