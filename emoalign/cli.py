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
    predict.add_argument("--segments", action="store_true",
                         help="also give each 10-s segment's top words and valence/arousal")
    predict.add_argument("--trim", action="store_true", help="analyse only the first 15 min of long songs")
    predict.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)

    from .pipeline import EmotionPipeline  # imported late so --help is instant
    try:
        pipe = EmotionPipeline(encoder=args.encoder, adapter=args.adapter)
        words = args.words or list(load_label_set(args.labels).labels)
        prediction = pipe.predict(args.song, words, top_k=args.top_k, trim=args.trim)
    except (AudioError, ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"emoalign: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(prediction.to_dict(segments=args.segments), indent=1, ensure_ascii=False))
        return 0
    print_prediction(prediction, f"{pipe.encoder.name}, adapter {pipe.adapter_name}",
                     args.segments)
    return 0


def print_prediction(prediction, model: str, segments: bool = False) -> None:
    """The human-readable answer: one ranking, what the top score means, valence/arousal."""
    song, scores, va = prediction.song, prediction.scores, prediction.va
    print(f"{song.name}: {song.duration_s:.1f} s, {song.n_segments} segments ({model})")
    for notice in prediction.notices:
        print(f"note: {notice}")
    rows = scores.ranking()
    width = max(len(r["word"]) for r in rows)
    voting = int(scores.vote_counts.sum()) // scores.top_k
    print(f"\n{'rank':>4}  {'word':<{width}}  {'score':>5}  {'cosine':>6}  votes")
    for rank, r in enumerate(rows, 1):
        score = f"{100 * r['score']:.0f}%" if scores.calibrated else f"{r['score']:.3f}"
        print(f"{rank:>4}  {r['word']:<{width}}  {score:>5}  {r['raw']:>6.3f}  "
              f"{r['votes']:>2}/{voting}")
    print(f"\n{rows[0]['word']}: {rows[0]['meaning']}.")
    print(va.describe())
    if segments:
        print()
        for i, start in enumerate(scores.segment_starts):
            v, a = va.segments[i]
            print(f"{start:6.0f} s  valence {v:+.2f}  arousal {a:+.2f}  "
                  f"{', '.join(scores.segment_top(i))}{'  (silent)' if song.silent[i] else ''}")


if __name__ == "__main__":
    sys.exit(main())
