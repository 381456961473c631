"""Indexing throughput: the local engine against Ray Data on this machine, in songs per hour,
and the hours 100k and 1M songs would take at that rate.

    python bench/bench_scale.py [--songs 12] [--actors 2] [--skip-ray]

Indexes `--songs` real 4Q clips (about 30 s each, from $EMOALIGN_DATA or ../shared/data; the
bundled examples otherwise, at most 6) into
a fresh library with each engine. Model loading is not counted for the local engine (once per
run); for Ray the actors' start-up is inside the time (it is part of every run), Ray's own
cluster start is not. Clips are about 30 s: a 3-minute song costs about 5x more.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def projection(name: str, songs: int, seconds: float) -> None:
    rate = songs / seconds * 3600
    print(f"{name}: {songs} songs in {seconds:.1f} s = {rate:,.0f} songs/hour; "
          f"100k songs {100_000 / rate:,.1f} h, 1M songs {1_000_000 / rate:,.0f} h")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--songs", type=int, default=12)
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()
    from emoalign.library.indexing import index_folder
    from emoalign.library.store import Library
    from emoalign.answer.pipeline import EmotionPipeline, analysis_only
    from songs import clips as real_clips
    clips, what = real_clips("4q", args.songs)
    print(f"{time.strftime('%Y-%m-%d')}: {len(clips)} {what}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "music"
        folder.mkdir()
        for clip in clips:
            (folder / clip.name).symlink_to(clip)
        pipe = analysis_only(EmotionPipeline(device="cpu"))  # as `emoalign index` runs it
        start = time.perf_counter()
        report = index_folder(folder, Library(Path(tmp) / "local.db"), pipe, progress=False)
        projection("local engine (decode thread + model)", report.added, time.perf_counter() - start)
        if args.skip_ray:
            return
        import ray
        from emoalign.library.scale import index_with_ray
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        start = time.perf_counter()
        report = index_with_ray(str(folder), Library(Path(tmp) / "ray.db"), actors=args.actors,
                                progress=False)
        projection(f"Ray Data, {args.actors} actors x 1 thread", report.added,
                   time.perf_counter() - start)
        ray.shutdown()


if __name__ == "__main__":
    main()
