"""Speed and memory of the offline pipeline on this machine.

    python bench/bench.py [--seconds 180] [--threads 2] [--repeat 3]

Builds a real 3-minute song by joining real Emotify clips (from $EMOALIGN_DATA or
../shared/data; the bundled examples otherwise) into a temporary Ogg/Opus file, then times each
stage separately (median of --repeat runs after one warm-up): decode + resample, encode,
adapter, tonal features, scoring the GEMS words (calibrated), valence/arousal, and re-scoring 20
new words (no audio). Prints peak memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

NEW_WORDS = ("wistful, furious, serene, bittersweet, triumphant, eerie, playful, lonely, "
             "euphoric, brooding, tender, restless, majestic, gloomy, dreamy, defiant, "
             "hopeful, nervous, cosy, haunting")


def make_song(seconds: float, path: Path) -> str:
    """Write the song as 24-kHz Ogg/Opus; returns what it is made of."""
    from songs import joined_song
    song, what = joined_song(seconds, 24000)
    sf.write(path, song, 24000, format="OGG", subtype="OPUS")
    return what


def timed(function, repeat: int):
    function()  # warm-up
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--encoder", default="musicnn")
    parser.add_argument("--song-out", help="also keep the song here (for bench_tf_musicnn.py)")
    args = parser.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    from emoalign import EmotionPipeline, load_audio, split_segments

    start = time.perf_counter()
    pipe = EmotionPipeline(encoder=args.encoder, device="cpu")
    load_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        song_path = Path(args.song_out) if args.song_out else Path(tmp) / "song.ogg"
        what = make_song(args.seconds, song_path)
        rate = pipe.encoder.sample_rate
        decode_s, audio = timed(lambda: load_audio(song_path, rate), args.repeat)
        segments = split_segments(audio, rate)
        encode_s, encoded = timed(lambda: pipe.encoder.encode(segments), args.repeat)
        adapter_s, _ = timed(lambda: pipe.embed_features(encoded.features), args.repeat)
        from emoalign.audio.tonal import TONAL_SAMPLE_RATE, TonalEncoder
        tonal_segments = split_segments(load_audio(song_path, TONAL_SAMPLE_RATE), TONAL_SAMPLE_RATE)
        tonal_s, _ = timed(lambda: TonalEncoder().encode(tonal_segments), args.repeat)
        analyze_s, song = timed(lambda: pipe.analyze(song_path), args.repeat)
        score_s, _ = timed(lambda: pipe.score_label_set(song, "gems"), args.repeat)
        va_s, _ = timed(lambda: pipe.valence_arousal(song), args.repeat)
        start = time.perf_counter()
        pipe.score(song, NEW_WORDS)  # 20 words never embedded before
        rescore_new_s = time.perf_counter() - start
        rescore_cached_s, _ = timed(lambda: pipe.score(song, NEW_WORDS), args.repeat)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"EmoAlign benchmark: {args.encoder}, {args.seconds:.0f}-s song ({len(segments)} "
          f"segments, {what}), {args.threads} torch threads, {os.cpu_count()} CPUs, median of {args.repeat}")
    rows = [("load models (once)", load_s), ("decode + resample", decode_s),
            ("encode", encode_s), ("adapter", adapter_s), ("tonal features", tonal_s),
            ("analyze (all of the above)", analyze_s), ("score GEMS-9 (calibrated)", score_s),
            ("valence/arousal (calibrated)", va_s), ("re-score 20 new words", rescore_new_s),
            ("re-score 20 words again (cached)", rescore_cached_s)]
    for name, seconds in rows:
        print(f"  {name:<34} {seconds:8.3f} s")
    print(f"  {'peak memory (max RSS)':<34} {peak_mb:8.0f} MB")


if __name__ == "__main__":
    main()
