"""Record the original TensorFlow musicnn's outputs on real audio for tests/test_musicnn.py.

Writes tests/fixtures/musicnn_reference.npz.

Builds the graph with the wheel's own `musicnn.models.define_model`, restores its checkpoints,
and computes spectrogram patches with the wheel's own `musicnn.extractor.batch_data` (librosa,
non-overlapping 187-frame patches). Unlike `musicnn.extractor.extractor`, which returns the
first patch's penultimate layer for every patch, it records every patch's own outputs.

Audio: the first DURATION seconds of a few Emotify clips, decoded with soundfile and resampled
24 kHz -> 16 kHz with soxr "HQ", exactly as tests/test_musicnn.py does. The audio itself is not
stored; the fixture holds the clip ids, start, duration, each clip's sum of squares (to detect
a different decoder), and per model (mtt, msd) the per-patch taggram (sigmoid, (clips, 3, 50))
and penultimate layer ((clips, 3, 200)).

Run it in the throw-away TensorFlow virtualenv described in tools/convert_musicnn.py:

    /tmp/tfenv/bin/python tools/musicnn_reference.py --wheel /tmp/musicnn_wheel
"""

from __future__ import annotations

import argparse
import os
import warnings
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

REPO = Path(__file__).resolve().parents[1]
CLIPS = ("001", "150", "250")  # classical, rock, electronic
START, DURATION, SR = 0.0, 10.0, 16000
N_FRAMES = 187  # librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1


def clip_audio(data: Path, clip: str) -> np.ndarray:
    """The 16-kHz excerpt of one Emotify clip (the test decodes it the same way)."""
    with sf.SoundFile(data / "emotify" / "audio" / f"{clip}.ogg") as f:
        f.seek(int(START * f.samplerate))
        audio = f.read(int(DURATION * f.samplerate), dtype="float32")
        return soxr.resample(audio, f.samplerate, SR, quality="HQ").astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, default=Path("/tmp/musicnn_whl/"
                        "musicnn-0.1.0-py3-none-any.whl"), help="the wheel or its unpacked folder")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get(
        "EMOALIGN_DATA", REPO.parent / "shared" / "data")))
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures"
                        / "musicnn_reference.npz")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    root = args.wheel
    if root.suffix == ".whl":
        zipfile.ZipFile(root).extractall(tmp.name)
        root = Path(tmp.name)
    sys.path.insert(0, str(root))
    warnings.filterwarnings("ignore")  # tf.compat.v1.layers deprecations
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    from musicnn import configuration, extractor, models  # extractor turns eager mode off

    # The wheel's front end reads a file: hand it the 16-kHz excerpt as a float wav, which
    # librosa.load(sr=16000) returns unchanged.
    patches, sum_sq = [], []
    for clip in CLIPS:
        audio = clip_audio(args.data, clip)
        sum_sq.append(np.sum(np.square(audio, dtype=np.float64)))
        wav = Path(tmp.name) / f"{clip}.wav"
        sf.write(wav, audio, SR, subtype="FLOAT")
        batch, _ = extractor.batch_data(str(wav), N_FRAMES, N_FRAMES)
        patches.append(batch.astype(np.float32))
    batch = np.concatenate(patches)
    n_patches = len(patches[0])
    assert all(len(p) == n_patches for p in patches)

    result = {"clips": np.array(CLIPS), "start_s": np.float32(START),
              "duration_s": np.float32(DURATION), "sample_rate": np.int32(SR),
              "audio_sum_sq": np.array(sum_sq)}
    for model, tags in [("mtt", configuration.MTT_LABELS), ("msd", configuration.MSD_LABELS)]:
        tf.compat.v1.reset_default_graph()
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, configuration.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        logits, *_, penultimate = models.define_model(
            x, is_training, f"{model.upper()}_musicnn", len(tags))
        with tf.compat.v1.Session() as sess:
            tf.compat.v1.train.Saver().restore(
                sess, str(root / "musicnn" / f"{model.upper()}_musicnn") + "/")
            taggram, penult = sess.run([tf.nn.sigmoid(logits), penultimate],
                                       feed_dict={x: batch, is_training: False})
        result[f"{model}_taggram"] = taggram.reshape(len(CLIPS), n_patches, -1).astype(np.float32)
        result[f"{model}_penultimate"] = penult.reshape(len(CLIPS), n_patches, -1).astype(
            np.float32)
        result[f"{model}_tags"] = np.array(tags)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **result)
    print(f"{args.out}: {args.out.stat().st_size / 1e3:.0f} kB, "
          f"{len(CLIPS)} clips x {n_patches} patches")
    tmp.cleanup()


if __name__ == "__main__":
    main()
