"""Convert the musicnn TensorFlow checkpoints to PyTorch safetensors for `emoalign.audio.musicnn`.

Writes assets/encoders/mtt_musicnn.safetensors and assets/encoders/msd_musicnn.safetensors:
float32 tensors under the state_dict names of `emoalign.audio.musicnn.Musicnn` (convolutions
O, I, H, W; the mid-end convolutions are Conv1d, O, I, time; dense layers out, in), and the
50 tag names in the metadata (`tags`, a JSON list). 792,079 numbers per model, about 3.2 MB.

Weights: musicnn 0.1.0 (Pons & Serra, "musicnn: pre-trained convolutional neural networks for
music audio tagging", ISMIR 2019 LBD), https://github.com/jordipons/musicnn, ISC licence:

    Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019. Code developed by
    Jordi Pons (www.jordipons.me). Permission to use, copy, modify, and/or distribute this
    software for any purpose with or without fee is hereby granted, provided that the above
    copyright notice and this permission notice appear in all copies.

TensorFlow is only needed here, once, in a throw-away virtualenv (never in the project's):

    python3.11 -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu==2.15.1 numpy==1.26.4 librosa==0.10.2 \
        soundfile soxr safetensors
    /tmp/tfenv/bin/pip download musicnn==0.1.0 --no-deps -d /tmp/musicnn_whl
    unzip -o /tmp/musicnn_whl/musicnn-0.1.0-py3-none-any.whl -d /tmp/musicnn_wheel
    /tmp/tfenv/bin/python tools/convert_musicnn.py --wheel /tmp/musicnn_wheel

(`--wheel` also accepts the .whl file itself; it is unpacked to a temporary folder.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
N_PARAMETERS = 792_079

# TensorFlow variable scope -> PyTorch module, in the order build_musicnn creates them.
CONVS = {  # conv2d_k/kernel is (H=time, W=frequency, in, out)
    "conv2d": "timbral.0.conv", "conv2d_1": "timbral.1.conv",
    "conv2d_2": "temporal.0.conv", "conv2d_3": "temporal.1.conv", "conv2d_4": "temporal.2.conv",
    "conv2d_5": "midend.0.conv", "conv2d_6": "midend.1.conv", "conv2d_7": "midend.2.conv",
}
BATCH_NORMS = {
    "batch_normalization": "input_bn",
    "batch_normalization_1": "timbral.0.bn", "batch_normalization_2": "timbral.1.bn",
    "batch_normalization_3": "temporal.0.bn", "batch_normalization_4": "temporal.1.bn",
    "batch_normalization_5": "temporal.2.bn",
    "batch_normalization_6": "midend.0.bn", "batch_normalization_7": "midend.1.bn",
    "batch_normalization_8": "midend.2.bn",
    "batch_normalization_9": "pool_bn", "batch_normalization_10": "dense_bn",
}
DENSES = {"dense": "dense", "dense_1": "head"}  # kernel is (in, out)
BN_FIELDS = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
             "moving_variance": "running_var"}


def convert(read: callable) -> dict[str, np.ndarray]:
    """`read(tf_name) -> array` for one checkpoint -> PyTorch state_dict as float32 arrays."""
    state = {}
    for tf_name, name in CONVS.items():
        kernel = read(f"{tf_name}/kernel")  # HWIO
        if name.startswith("midend"):  # (7, features, 1, out): a Conv1d over time
            weight = kernel[:, :, 0, :].transpose(2, 1, 0)
        else:
            weight = kernel.transpose(3, 2, 0, 1)  # OIHW
        state[f"{name}.weight"], state[f"{name}.bias"] = weight, read(f"{tf_name}/bias")
    for tf_name, name in BATCH_NORMS.items():
        for tf_field, field in BN_FIELDS.items():
            state[f"{name}.{field}"] = read(f"{tf_name}/{tf_field}")
    for tf_name, name in DENSES.items():
        state[f"{name}.weight"] = read(f"{tf_name}/kernel").T
        state[f"{name}.bias"] = read(f"{tf_name}/bias")
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, default=Path("/tmp/musicnn_whl/"
                        "musicnn-0.1.0-py3-none-any.whl"), help="the wheel or its unpacked folder")
    parser.add_argument("--out", type=Path, default=REPO / "assets" / "encoders")
    args = parser.parse_args()

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    from safetensors.numpy import save_file

    with tempfile.TemporaryDirectory() as tmp:
        root = args.wheel
        if root.suffix == ".whl":
            zipfile.ZipFile(root).extractall(tmp)
            root = Path(tmp)
        sys.path.insert(0, str(root))
        from musicnn import configuration

        args.out.mkdir(parents=True, exist_ok=True)
        for model, tags in [("MTT", configuration.MTT_LABELS), ("MSD", configuration.MSD_LABELS)]:
            # The `checkpoint` file names the author's absolute path: open the prefix directly.
            reader = tf.compat.v1.train.NewCheckpointReader(
                str(root / "musicnn" / f"{model}_musicnn") + "/")
            state = convert(reader.get_tensor)
            skipped = set(reader.get_variable_to_shape_map()) - {
                f"{t}/{f}" for t in CONVS | DENSES for f in ("kernel", "bias")} - {
                f"{t}/{f}" for t in BATCH_NORMS for f in BN_FIELDS}
            assert all("Adam" in s or s.startswith("beta") for s in skipped), skipped
            n = sum(v.size for v in state.values())
            assert n == N_PARAMETERS, n
            path = args.out / f"{model.lower()}_musicnn.safetensors"
            save_file(state, str(path), metadata={
                "tags": json.dumps(list(tags)), "source": f"musicnn==0.1.0 {model}_musicnn",
                "license": "ISC, (c) Music Technology Group, Universitat Pompeu Fabra 2019"})
            path.chmod(0o644)
            print(f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: "
                  f"{n:,} parameters, {path.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
