"""Compute an encoder's features for a dataset once and cache them.

    python train/extract.py --encoder musicnn --dataset emotify 4q
    python train/extract.py --encoder tonal --dataset vgmidi@fluidr3   # the tonal features

The piano sets' rendered variants (vgmidi@<soundfont>, memomusic@<soundfont>) need
train/render.py first; memomusic@audio is its real recordings.

Writes features/<encoder>/<dataset>.npz (or under --features-dir / $EMOALIGN_FEATURES):
every 10-s segment's features, tag probabilities and start time, keyed by track. Re-running
resumes: cached tracks are skipped, and the cache is rewritten every --chunk tracks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emoalign.audio.encoders import DEFAULT_ENCODER, load_encoder  # noqa: E402
from emoalign.learn.datasets import DATASETS, load_tracks  # noqa: E402
from emoalign.learn.features import extract_features, feature_path  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--encoder", default=DEFAULT_ENCODER,
                        help="an encoder name, or 'tonal' for the tonal features")
    parser.add_argument("--dataset", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--features-dir", default=None,
                        help="default: $EMOALIGN_FEATURES or features/")
    parser.add_argument("--data-dir", default=None,
                        help="default: $EMOALIGN_DATA or ../shared/data")
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the encoder")
    parser.add_argument("--chunk", type=int, default=20, help="tracks between cache writes")
    parser.add_argument("--split", nargs="+", default=["all"],
                        choices=["train", "validation", "test", "all"], help="only these splits")
    parser.add_argument("--max-segments", type=int, default=0,
                        help="keep at most N evenly spread 10-s segments per track (0: all)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N tracks")
    args = parser.parse_args(argv)

    import torch
    torch.set_num_threads(args.threads)
    kwargs = {"threads": args.threads} if args.encoder == "musicnn" else {}
    if args.encoder == "tonal":
        from emoalign.audio.tonal import TonalEncoder
        encoder = TonalEncoder()
    else:
        encoder = load_encoder(args.encoder, args.device, **kwargs)
    for dataset in args.dataset:
        tracks = load_tracks(dataset, args.data_dir)
        ids = [tracks.ids[i] for split in args.split for i in tracks.subset(split)]
        ids = ids[:args.limit] if args.limit else ids
        path = feature_path(encoder.name, dataset, args.features_dir)
        cache = extract_features(encoder, dataset, path, tracks=tracks, track_ids=ids,
                                 chunk=args.chunk, max_segments=args.max_segments or None)
        print(f"{dataset}: {len(cache.track_ids)} tracks, {len(cache.features)} segments, "
              f"{cache.feature_dim}-d features, {len(cache.tag_names)} tags -> {path}")


if __name__ == "__main__":
    main()
