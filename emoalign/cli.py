"""Command line.

  emoalign predict SONG [SONG ...] [--words ...] [--labels gems] [--json]
  emoalign index FOLDER [--db PATH] [--engine local|ray] [--prune]
  emoalign search "wistful, rainy night" [--db PATH] [--top N]
  emoalign similar SONG_OR_ID [--db PATH] [--top N]
  emoalign export --csv|--json [--words ... | --labels NAME] [--db PATH] [--out FILE]
  emoalign journey FROM TO [--length N | --minutes M] [--db PATH] [--out FILE.m3u8] [--json]

The library is --db, else $EMOALIGN_LIBRARY, else ~/.emoalign/library.db. Search and similar
fall back to the shipped reference corpus while the library is missing or empty.
A journey's FROM and TO are emotion words ("sad", "calm, hopeful"), a library song (path, id
or hash) or a valence,arousal point ("-0.6,-0.4"); see docs/journeys.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from .audio.encoders import DEFAULT_ENCODER, available_encoders
from .text.labels import DEFAULT_LABELS, available_label_sets


# "-0.6,-0.4" is a journey's point, not an option: argparse is shown it with a leading space
NEGATIVE_POINT = re.compile(r"^-[\d.]+\s*[,;]\s*[+-]?[\d.]+$")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["journey"]:
        argv = [f" {a}" if NEGATIVE_POINT.match(a) else a for a in argv]
    args = parser().parse_args(argv)
    from .commands import CommandError
    from .library.store import LibraryError
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, RuntimeError, LibraryError,  # AudioError and
            CommandError) as error:  # IndexingError are ValueErrors
        print(f"emoalign: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emoalign: stopped (what was written stays; rerun to resume).", file=sys.stderr)
        return 130


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="emoalign", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)
    vocabularies = available_label_sets() + ["all"]

    predict = commands.add_parser("predict", help="score emotion words for one or more songs")
    predict.add_argument("songs", nargs="+", metavar="SONG",
                         help="audio files (wav, flac, ogg, opus, mp3; others need ffmpeg)")
    predict.add_argument("--words", help='your own words, e.g. "wistful, furious"')
    predict.add_argument("--labels", default=DEFAULT_LABELS, choices=vocabularies,
                         help="built-in vocabulary used when --words is not given (default "
                              "moods: plain mood words)")
    predict.add_argument("--top-k", type=int, default=3)
    predict.add_argument("--segments", action="store_true",
                         help="also give each 10-s segment's top words and valence/arousal")
    predict.add_argument("--trim", action="store_true", help="analyse only the first 15 min of long songs")
    predict.add_argument("--json", action="store_true",
                         help="machine-readable output (several songs: one JSON object per line)")
    _model_options(predict)

    index = commands.add_parser("index", help="add a folder's songs to the library")
    index.add_argument("folder", help="folder (recursive); with --engine ray also s3://, gs://")
    index.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local (default) or Ray Data (RAY_ADDRESS for a cluster)")
    index.add_argument("--actors", type=int, help="Ray actors (default: the cluster's CPUs)")
    index.add_argument("--quiet", action="store_true", help="no progress bar")
    index.add_argument("--prune", action="store_true",
                       help="also forget songs whose files are no longer in FOLDER (use it when "
                            "the library holds this folder only)")
    _db_option(index)
    _model_options(index)

    search = commands.add_parser("search", help="songs ranked by emotion words")
    search.add_argument("words", help='e.g. "wistful, rainy night"')
    _query_options(search)

    similar = commands.add_parser("similar", help="songs that feel like a song")
    similar.add_argument("song", metavar="SONG_OR_ID",
                         help="library id, path or hash; a reference id (emotify/12); or an audio file")
    _query_options(similar)
    _model_options(similar)

    export = commands.add_parser("export", help="one row per song: valence, arousal, top emotions")
    form = export.add_mutually_exclusive_group(required=True)
    form.add_argument("--csv", action="store_true")
    form.add_argument("--json", action="store_true", help="one JSON object per line")
    words = export.add_mutually_exclusive_group()
    words.add_argument("--words", help="score these words too, one column each")
    words.add_argument("--labels", choices=vocabularies,
                       help="a built-in vocabulary, one column per word (default: top words of the plain mood words)")
    export.add_argument("--top-k", type=int, default=3, help="top words per song (default 3)")
    export.add_argument("--out", help="file to write (default: standard output)")
    _db_option(export)
    _model_options(export)

    journey = commands.add_parser(
        "journey", help="a playlist whose feeling moves from FROM to TO",
        description="FROM and TO: emotion words ('sad', 'calm, hopeful'), a library song "
                    "(path, id or hash) or a valence,arousal point ('-0.6,-0.4'). The same "
                    "twice gives a mood-steady mix.")
    journey.add_argument("start", metavar="FROM")
    journey.add_argument("end", metavar="TO")
    size = journey.add_mutually_exclusive_group()
    size.add_argument("--length", type=int, help="how many songs (default 10)")
    size.add_argument("--minutes", type=float, help="about how long, by the songs' durations")
    journey.add_argument("--out", help="write the playlist as an extended M3U8 (FILE.m3u8)")
    journey.add_argument("--json", action="store_true", help="machine-readable output")
    journey.add_argument("--music", help="the folder the library's paths start from (default: "
                                         "the folders `emoalign index` recorded)")
    _db_option(journey)
    _model_options(journey)
    return top


def _db_option(command) -> None:
    command.add_argument("--db", help="library file (default $EMOALIGN_LIBRARY or "
                                      "~/.emoalign/library.db)")


def _query_options(command) -> None:
    _db_option(command)
    command.add_argument("--top", type=int, default=10, help="how many songs (default 10)")
    command.add_argument("--reference", action="store_true",
                         help="search the shipped reference corpus, not your library")
    command.add_argument("--json", action="store_true", help="one JSON object per line")


def _model_options(command) -> None:
    command.add_argument("--encoder", default=DEFAULT_ENCODER, choices=available_encoders())
    command.add_argument("--adapter", help="adapter name or .safetensors path (default: shipped)")


def run_predict(args) -> int:
    """One model load for every song; a song that fails is reported and the others go on."""
    from .text.labels import load_label_set
    from .answer.pipeline import EmotionPipeline, analysis_only
    pipe = analysis_only(EmotionPipeline(encoder=args.encoder, adapter=args.adapter))
    words = args.words or list(load_label_set(args.labels).labels)
    single, failed = len(args.songs) == 1, 0
    for song in args.songs:
        try:
            prediction = pipe.predict(song, words, top_k=args.top_k, trim=args.trim)
        except (ValueError, FileNotFoundError, RuntimeError) as error:  # AudioError is a ValueError
            if single:
                raise
            failed += 1
            print(f"emoalign: {error}", file=sys.stderr)
            if args.json:
                print(json.dumps({"file": _name(song), "error": str(error)}, ensure_ascii=False))
            continue
        if args.json:
            answer = prediction.to_dict(segments=args.segments)
            print(json.dumps(answer, indent=1 if single else None, ensure_ascii=False), flush=True)
        else:
            if not single:
                print()
            print_prediction(prediction, f"{pipe.encoder.name}, adapter {pipe.adapter_name}",
                             args.segments)
    return 2 if failed else 0


def _name(path: str) -> str:
    from pathlib import Path
    return Path(path).name


def print_prediction(prediction, model: str, segments: bool = False) -> None:
    """The human-readable answer: one ranking, what the top score means, valence/arousal."""
    from .text.labels import plain_name
    song, scores, va = prediction.song, prediction.scores, prediction.va
    print(f"{song.name}: {song.duration_s:.1f} s, {song.n_segments} segments ({model})")
    for notice in prediction.notices:
        print(f"note: {notice}")
    rows = scores.ranking()
    for r in rows:
        r["word"] = plain_name(r["word"])
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


def _command(name: str):
    def run(args):
        from . import commands
        return getattr(commands, name)(args)
    return run


COMMANDS = {"predict": run_predict, "index": _command("run_index"),
            "search": _command("run_search"), "similar": _command("run_similar"),
            "export": _command("run_export"), "journey": _command("run_journey")}

if __name__ == "__main__":
    sys.exit(main())
