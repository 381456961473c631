"""The original TensorFlow musicnn on the same song, for comparison with bench/bench.py.

Run in the throw-away TensorFlow virtualenv of tools/convert_musicnn.py (TensorFlow is not a
dependency of EmoAlign):

    .venv/bin/python bench/bench.py --song-out /tmp/song.ogg          # makes the 3-min song
    /tmp/tfenv/bin/python bench/bench_tf_musicnn.py /tmp/song.ogg --threads 2

Times, median of --repeat after one warm-up: the wheel's own front end (librosa log-mel,
3-s patches), the MTT_musicnn graph built once and run on every patch, and the wheel's
one-call `musicnn.extractor.extractor` (which rebuilds the graph on every call).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

N_FRAMES = 187


def timed(function, repeat):
    function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("song")
    parser.add_argument("--wheel", type=Path,
                        default=Path("/tmp/musicnn_whl/musicnn-0.1.0-py3-none-any.whl"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    zipfile.ZipFile(args.wheel).extractall(tmp.name)
    sys.path.insert(0, tmp.name)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from musicnn import configuration, extractor, models

    audio, sr = sf.read(args.song, dtype="float32")
    wav = Path(tmp.name) / "song16k.wav"
    sf.write(wav, soxr.resample(audio, sr, 16000, quality="HQ"), 16000, subtype="FLOAT")
    front_s = timed(lambda: extractor.batch_data(str(wav), N_FRAMES, N_FRAMES), args.repeat)
    batch, _ = extractor.batch_data(str(wav), N_FRAMES, N_FRAMES)

    tf.compat.v1.reset_default_graph()
    x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, configuration.N_MELS])
    is_training = tf.compat.v1.placeholder(tf.bool)
    logits, *_, penultimate = models.define_model(x, is_training, "MTT_musicnn", 50)
    config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=args.threads,
                                      inter_op_parallelism_threads=args.threads)
    with tf.compat.v1.Session(config=config) as sess:
        tf.compat.v1.train.Saver().restore(sess, str(Path(tmp.name) / "musicnn" / "MTT_musicnn") + "/")
        net_s = timed(lambda: sess.run([logits, penultimate],
                                       feed_dict={x: batch, is_training: False}), args.repeat)
    one_call_s = timed(lambda: extractor.extractor(str(wav), model="MTT_musicnn",
                                                   extract_features=True), args.repeat)
    print(f"TensorFlow {tf.__version__} musicnn (MTT), {len(audio) / sr:.0f}-s song, "
          f"{len(batch)} patches, {args.threads} threads, median of {args.repeat}")
    print(f"  front end (librosa, wheel's batch_data)  {front_s:8.3f} s")
    print(f"  network, graph built once                {net_s:8.3f} s")
    print(f"  wheel's extractor() one call             {one_call_s:8.3f} s")


if __name__ == "__main__":
    main()
