"""Speed of the tonal features on one core.

    python bench/bench_tonal.py [--seconds 180] [--repeat 3]

Builds a real 3-minute song by joining real Emotify clips (from $EMOALIGN_DATA or
../shared/data; the bundled examples otherwise), resamples it to 16 kHz, cuts it into 10-s segments and times
TonalEncoder.encode (median of --repeat runs after one warm-up). Prints ms per segment.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the target says


REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from emoalign.audio.load import split_segments  # noqa: E402
from emoalign.audio.tonal import TONAL_SAMPLE_RATE, TonalEncoder  # noqa: E402
from songs import joined_song  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    song, what = joined_song(args.seconds, TONAL_SAMPLE_RATE)
    segments = split_segments(song, TONAL_SAMPLE_RATE)
    encoder = TonalEncoder()
    encoder.encode(segments[:2])  # warm-up
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        encoder.encode(segments)
        times.append(time.perf_counter() - start)
    total = statistics.median(times)
    print(f"tonal features: {len(segments)} segments of 10 s ({args.seconds:.0f}-s song of {what}), "
          f"{total * 1000:.0f} ms total, {total * 1000 / len(segments):.1f} ms per segment")


if __name__ == "__main__":
    main()
