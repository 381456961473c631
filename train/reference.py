"""Build the reference corpus that calibrated scores and valence/arousal are read against.

    python -m train.reference                                  # musicnn + the shipped adapter
    python -m train.reference --adapter runs/x.safetensors --out /tmp/musicnn.safetensors

Takes every clip of the datasets below that are in ../shared/data, from the musicnn and tonal
feature caches (train/extract.py, with and without `--encoder tonal`); a dataset whose cache
is missing is skipped and named, and tracks not yet cached (an extraction still running) are
left out and counted. Embeds the songs with the adapter (the corpus is tied to it by its
SHA-256), fits the valence/arousal head on the sets that have valence/arousal labels, and
writes assets/reference/musicnn.safetensors (features as float16: a few MB). With the head it
stores the music check (fitted on the corpus and on generated non-music, train/nonmusic.py)
and the neutral radius (from held-out readings: each collection read by a head fitted on the
others).

    python -m train.reference --refit      # refit head and checks on the stored corpus

`--refit` needs no feature cache: it reads the corpus from the shipped reference file (its
features and song embeddings) and the labels from the datasets' label files.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emoalign.answer.adapter import load_adapter  # noqa: E402
from emoalign.answer.calibration import (embed_corpus, load_reference,  # noqa: E402
                                         reference_path, save_reference)
from emoalign.answer.confidence import (fit_music_check, fit_neutral_radius,  # noqa: E402
                                        song_inputs)
from emoalign.answer.valence_arousal import PRODUCT_MODE  # noqa: E402
from emoalign.learn.corpus import (corpus_from_datasets, corpus_targets,  # noqa: E402
                                   fit_corpus_head, held_out_reader)
from emoalign.learn.datasets import available_datasets  # noqa: E402
from emoalign.learn.features import feature_path  # noqa: E402

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


def answer_checks(corpus, targets, song_va, fit_on, fit_targets) -> tuple[dict, dict]:
    """The head (fitted on `fit_on`), the music check and the neutral radius: (tensors, meta)."""
    from train.nonmusic import FIT_SEEDS, encoded

    head = fit_corpus_head(fit_on, fit_targets, HEAD_MODE)
    clips = encoded(FIT_SEEDS)
    check = fit_music_check(song_inputs(corpus.features, corpus.tonal, corpus.offsets),
                            song_inputs(clips["features"], clips["tonal"], clips["offsets"]),
                            corpus.weights)
    collection = np.array([d.split("@")[0] for d in corpus.datasets])
    readings = np.full((len(corpus), 2), np.nan)
    for name in np.unique(collection):  # each collection read by a head fitted on the others
        train = collection != name
        readings[~train] = held_out_reader(corpus, targets, train, HEAD_MODE)(corpus.select(~train))
    from emoalign.answer.valence_arousal import quadrant_of
    labelled = np.isin(collection, ("4q", "vgmidi", "memomusic")) & np.isfinite(song_va).all(axis=1)
    truth = quadrant_of(song_va[labelled, 0], song_va[labelled, 1])
    radius = fit_neutral_radius(readings[labelled], truth, corpus.weights[labelled])
    return {**head.tensors(), **check.tensors()}, {"neutral_radius": radius,
                                                   "music_check_clips": len(clips["kinds"])}


def refit(out: str | None) -> Path:
    """Refit the head and the checks on the corpus stored in the shipped reference file."""
    path = reference_path(ENCODER)
    corpus, _, meta = load_reference(path)
    targets, song_va = corpus_targets(corpus)  # the stored known labels stay as they are
    extra = cached_datasets(HEAD_EXTRA)
    fit_on, fit_targets = corpus, targets
    if extra:  # the head also hears a second piano sound (not stored: one render per piece)
        more, more_targets = corpus_from_datasets(extra, ENCODER, skip_uncached=True)
        fit_on = _joined(corpus, more)
        fit_targets = np.concatenate([targets, more_targets])
    tensors, checks = answer_checks(corpus, targets, song_va, fit_on, fit_targets)
    meta.update(checks, head_mode=HEAD_MODE, head_also_fitted_on=extra,
                refitted=datetime.date.today().isoformat())
    written = save_reference(corpus, out or path, extra=tensors, meta=meta)
    print(f"refitted {written}: head {HEAD_MODE} (also on {', '.join(extra) or 'nothing else'}), "
          f"neutral radius {checks['neutral_radius']:.2f}, music check on "
          f"{checks['music_check_clips']} non-music clips")
    return written


def _joined(a, b):
    """Two corpora as one (for fitting: embeddings and labels of `a` are dropped)."""
    from emoalign.answer.calibration import ReferenceCorpus
    return ReferenceCorpus(np.concatenate([a.ids, b.ids]), np.concatenate([a.datasets, b.datasets]),
                           np.concatenate([a.offsets, a.offsets[-1] + b.offsets[1:]]),
                           np.vstack([a.features, b.features]), np.vstack([a.tonal, b.tonal]),
                           a.encoder)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapter", default=f"{ENCODER}-default",
                        help="adapter name or .safetensors path (default: the shipped one)")
    parser.add_argument("--out", default=None, help=f"default: {reference_path(ENCODER)}")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument("--features-dir", default=None,
                        help="default: $EMOALIGN_FEATURES or features/")
    parser.add_argument("--refit", action="store_true",
                        help="refit the head and checks on the shipped corpus (no feature caches)")
    args = parser.parse_args(argv)
    if args.refit:
        return refit(args.out)

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
    tensors, checks = (answer_checks(corpus, targets, np.stack([corpus.valence, corpus.arousal], 1),
                                     fit_on, fit_targets) if labelled.all() else (None, {}))
    if tensors is None:
        print("no valence/arousal head: none of the cached sets has valence and arousal labels "
              "(valence/arousal will come from calibrated pole words)")
    counts = {d: int(np.sum(np.char.startswith(corpus.ids.astype(str), d + "/")))
              for d in datasets}
    meta = {"built_from": datasets, "head_also_fitted_on": extra, "counts": counts,
            "segments": int(len(corpus.features)), "date": datetime.date.today().isoformat(),
            "adapter": str(args.adapter), "head_mode": HEAD_MODE if tensors else None, **checks}
    path = save_reference(corpus, args.out or reference_path(ENCODER), extra=tensors, meta=meta)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MB): {len(corpus)} songs "
          f"({', '.join(f'{d} {n}' for d, n in counts.items())}), {len(corpus.features)} "
          f"segments, adapter sha256 {card['sha256'][:12]}, head {meta['head_mode']}")
    return path


if __name__ == "__main__":
    main()
