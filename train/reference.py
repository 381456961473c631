"""Build the reference corpus that calibrated scores and valence/arousal are read against.

    python -m train.reference                                  # musicnn + the shipped adapter
    python -m train.reference --adapter runs/x.safetensors --out /tmp/musicnn.safetensors

Takes every clip of the datasets below that are in ../shared/data, from the musicnn and tonal
feature caches (train/extract.py, with and without `--encoder tonal`); a dataset whose cache
is missing is skipped and named, and tracks not yet cached (an extraction still running) are
left out and counted. Embeds the songs with the adapter (the corpus is tied to it by its
SHA-256), fits the valence/arousal head on the sets that have valence/arousal labels, and
writes assets/reference/musicnn.safetensors (features as float16: a few MB).
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emoalign.adapter import load_adapter  # noqa: E402
from emoalign.calibration import (corpus_from_datasets, embed_corpus, fit_corpus_head,  # noqa: E402
                                  reference_path, save_reference)
from emoalign.datasets import available_datasets  # noqa: E402
from emoalign.features import feature_path  # noqa: E402
from emoalign.valence_arousal import PRODUCT_MODE  # noqa: E402

ENCODER = "musicnn"
DATASETS = ("emotify", "4q", "vgmidi@musescore", "memomusic@musescore", "memomusic@audio")
# The head also learns from a second soundfont's renders (not stored: one render per piece in
# the corpus), so it leans less on one renderer's sound.
HEAD_EXTRA = ("vgmidi@fluidr3", "memomusic@fluidr3")
HEAD_MODE = PRODUCT_MODE


def cached_datasets(wanted: tuple[str, ...], features_dir: str | None = None) -> list[str]:
    """The datasets of `wanted` whose audio and both feature caches exist; prints why the
    others are left out."""
    present = set(available_datasets())
    out = []
    for dataset in wanted:
        if dataset not in present:
            print(f"skip {dataset}: its audio is not in the data directory (or not rendered yet)")
            continue
        missing = [feature_path(e, dataset, features_dir) for e in (ENCODER, "tonal")
                   if not feature_path(e, dataset, features_dir).is_file()]
        if missing:
            print(f"skip {dataset}: no feature cache {', '.join(map(str, missing))}; run "
                  f"python train/extract.py --dataset {dataset} "
                  f"{'(and --encoder tonal)' if len(missing) == 2 else ''}".rstrip())
            continue
        out.append(dataset)
    return out


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapter", default=f"{ENCODER}-default",
                        help="adapter name or .safetensors path (default: the shipped one)")
    parser.add_argument("--out", default=None, help=f"default: {reference_path(ENCODER)}")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--features-dir", default=None,
                        help="default: $EMOALIGN_FEATURES or features/")
    args = parser.parse_args(argv)

    datasets = cached_datasets(tuple(args.datasets), args.features_dir)
    if not datasets:
        raise SystemExit("no dataset has both feature caches; nothing to build")
    corpus, targets = corpus_from_datasets(datasets, ENCODER, features_dir=args.features_dir,
                                           skip_uncached=True)
    adapter, card = load_adapter(args.adapter)
    if adapter.config.input_dim != corpus.features.shape[1]:
        raise SystemExit(f"adapter {args.adapter} takes {adapter.config.input_dim}-d features, "
                         f"the {ENCODER} cache holds {corpus.features.shape[1]}-d ones")
    embed_corpus(adapter, corpus, card["sha256"])
    extra = cached_datasets(HEAD_EXTRA, args.features_dir)
    fit_on, fit_targets = (corpus, targets) if not extra else corpus_from_datasets(
        datasets + extra, ENCODER, features_dir=args.features_dir, skip_uncached=True)
    labelled = np.isfinite(fit_targets).any(axis=0)
    head = fit_corpus_head(fit_on, fit_targets, HEAD_MODE) if labelled.all() else None
    if head is None:
        print("no valence/arousal head: none of the cached sets has valence and arousal labels "
              "(valence/arousal will come from calibrated pole words)")
    counts = {d: int(np.sum(np.char.startswith(corpus.ids.astype(str), d + "/")))
              for d in datasets}
    meta = {"built_from": datasets, "head_also_fitted_on": extra, "counts": counts, "segments": int(len(corpus.features)),
            "date": datetime.date.today().isoformat(), "adapter": str(args.adapter),
            "head_mode": HEAD_MODE if head is not None else None}
    path = save_reference(corpus, args.out or reference_path(ENCODER),
                          extra=head.tensors() if head is not None else None, meta=meta)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB): {len(corpus)} songs "
          f"({', '.join(f'{d} {n}' for d, n in counts.items())}), {len(corpus.features)} "
          f"segments, adapter sha256 {card['sha256'][:12]}, head {meta['head_mode']}")
    return path


if __name__ == "__main__":
    main()
