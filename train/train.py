"""Train one alignment adapter and save it with its card.

    python train/train.py --datasets emotify 4q --targets clusters --lam 1.0 \
        --out assets/adapters/musicnn-default.safetensors
    python train/train.py --folder my/audio --labels-csv my/labels.csv --out runs/mine.safetensors

Features come from the cache (missing tracks are encoded first). Model selection uses the
training datasets' validation splits only; the saved card holds the configuration, the
clusters, the data and splits, and test-split metrics of every dataset (zero-shot for the
label sets not trained on, also on all of that dataset's tracks).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emoalign.audio.encoders import load_encoder  # noqa: E402
from emoalign.learn.datasets import DATASETS  # noqa: E402
from emoalign.learn.folders import folder_dataset  # noqa: E402
from emoalign.learn.runs import run_training  # noqa: E402
from emoalign.learn.training import TrainConfig  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="*", default=None, choices=list(DATASETS),
                   help="shipped datasets (default: emotify 4q, or none with --folder)")
    p.add_argument("--folder", default=None, help="a folder of audio to train on as well")
    p.add_argument("--labels-csv", default=None, help="the folder's labels (see docs/training.md)")
    p.add_argument("--file-column", default="file")
    p.add_argument("--labels-column", default="labels")
    p.add_argument("--separator", default=";")
    p.add_argument("--split-column", default="split",
                   help="absent from the CSV: a seeded 80/10/10 split")
    p.add_argument("--encoder", default="musicnn")
    p.add_argument("--targets", choices=["labels", "clusters"], default="clusters")
    p.add_argument("--lam", type=float, default=1.0, help="alignment regulariser weight")
    p.add_argument("--bandwidth", type=float, default=TrainConfig.bandwidth,
                   help="Mean Shift bandwidth; 0 estimates it from --quantile")
    p.add_argument("--quantile", type=float, default=0.03)
    p.add_argument("--variant", choices=["segment", "song"], default=TrainConfig.variant)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--epochs", type=int, default=TrainConfig.max_epochs)
    p.add_argument("--lr", type=float, default=TrainConfig.lr)
    p.add_argument("--max-segments", type=int, default=TrainConfig.max_segments)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--features-dir", default=None)
    p.add_argument("--note", default="", help="free text stored in the card (e.g. why)")
    p.add_argument("--out", required=True, help="where to write the .safetensors (+ .json card)")
    args = p.parse_args(argv)
    if bool(args.folder) != bool(args.labels_csv):
        p.error("--folder and --labels-csv go together")

    import torch
    torch.set_num_threads(args.threads)
    try:
        folders = [folder_dataset(args.folder, args.labels_csv, args.file_column,
                                  args.labels_column, args.separator, args.split_column)
                   ] if args.folder else []
    except ValueError as error:
        p.error(str(error))
    shipped = args.datasets if args.datasets is not None else [] if folders else list(DATASETS)
    config = TrainConfig(datasets=(*shipped, *(f.dataset for f in folders)),
                         encoder=args.encoder, targets=args.targets, lam=args.lam,
                         bandwidth=args.bandwidth or None, quantile=args.quantile,
                         variant=args.variant, seed=args.seed, max_epochs=args.epochs, lr=args.lr,
                         max_segments=args.max_segments)
    given = sys.argv[1:] if argv is None else list(argv)
    if "--note" in given:  # the note is stored on its own
        i = given.index("--note")
        given = given[:i] + given[i + 2:]
    card = {"command": "python train/train.py " + " ".join(given)}
    if args.note:
        card["note"] = args.note
    kwargs = {"threads": args.threads} if args.encoder == "musicnn" else {}
    out = Path(args.out)
    run = run_training(config, load_encoder(args.encoder, **kwargs), out.parent, folders,
                       name=out.name.removesuffix(".safetensors"),
                       features_dir=args.features_dir, zero_shot_splits=("test", "all"),
                       card=card)
    result = run.result
    print(f"saved {run.path} (best epoch {result.best_epoch}, validation F1 "
          f"{result.best_val_f1:.3f}, {result.seconds:.0f} s)")
    for s in run.metrics:
        print(f"{s['task']:28s} song F1 vote {s['f1_song_vote']:.3f} mean {s['f1_song_mean']:.3f} "
              f"segment {s['f1_segment']:.3f} ROC-AUC {s['roc_auc_song']:.3f}  "
              f"(most frequent {s['baselines']['most_frequent']:.3f}, "
              f"random {s['baselines']['random']:.3f})"
              + ("  zero-shot" if s["zero_shot"] else ""))
    if run.skipped:
        print(f"not evaluated (features not cached): {', '.join(run.skipped)}")


if __name__ == "__main__":
    main()
