"""Command line: `emoalign predict SONG [--words ...] [--labels gems] [--json]`."""

from __future__ import annotations

import argparse
import json
import sys

from .audio import AudioError
from .encoders import DEFAULT_ENCODER, available_encoders
from .labels import available_label_sets, load_label_set


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emoalign", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="score emotion words for a song")
    predict.add_argument("song", help="audio file (wav, flac, ogg, opus, mp3; others need ffmpeg)")
    predict.add_argument("--words", help='your own words, e.g. "wistful, furious"')
    predict.add_argument("--labels", default="gems", choices=available_label_sets() + ["all"],
                         help="built-in vocabulary used when --words is not given (default gems)")
    predict.add_argument("--top-k", type=int, default=3)
    predict.add_argument("--encoder", default=DEFAULT_ENCODER, choices=available_encoders())
    predict.add_argument("--adapter", help="adapter name or .safetensors path (default: shipped)")
    predict.add_argument("--segments", action="store_true", help="also print per-segment scores")
    predict.add_argument("--trim", action="store_true", help="analyse only the first 15 min of long songs")
    predict.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)

    from .pipeline import EmotionPipeline  # imported late so --help is instant
    try:
        pipe = EmotionPipeline(encoder=args.encoder, adapter=args.adapter)
        song = pipe.analyze(args.song, trim=args.trim)
        words = args.words or list(load_label_set(args.labels).labels)
        scores = pipe.score(song, words, top_k=args.top_k)
    except (AudioError, ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"emoalign: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"file": song.name, "duration_s": round(song.duration_s, 2),
                          "notices": song.notices, **json.loads(scores.to_json())}, indent=1))
        return 0
    print(f"{song.name}: {song.duration_s:.1f} s, {song.n_segments} segments "
          f"({pipe.encoder.name}, adapter {pipe.adapter_name})")
    for notice in song.notices:
        print(f"note: {notice}")
    width = max(len(w) for w in scores.words)
    print(f"\n{'rank':>4}  {'word':<{width}}  score  votes")
    for row in scores.table():
        print(f"{row['rank']:>4}  {row['word']:<{width}}  {row['score']:.3f}  {row['votes']:>5}")
    print(f"\ntop {scores.top_k} by mean embedding: {', '.join(scores.top_by_mean)}")
    print(f"top {scores.top_k} by segment vote:    {', '.join(scores.top_by_vote)}")
    if args.segments:
        for start, row in zip(scores.segment_starts, scores.segment_scores):
            best = ", ".join(scores.words[i] for i in row.argsort()[::-1][: scores.top_k])
            print(f"{start:6.0f} s  {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
