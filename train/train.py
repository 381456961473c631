"""Train one alignment adapter on cached features and save it with its card.

    python train/train.py --datasets emotify 4q --targets clusters --lam 1.0 \
        --out assets/adapters/musicnn-default.safetensors

Model selection uses the training datasets' validation splits only; the saved card holds the
configuration, the clusters, the data and splits, and test-split metrics of every dataset
(zero-shot for the datasets not trained on).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emoalign.adapter import save_adapter  # noqa: E402
from emoalign.training import (DATASETS, TrainConfig, evaluate_all, in_domain_tasks,  # noqa: E402
                               load_features, load_tracks, train)

ZERO_SHOT_TASKS = {"emotify": [("emotify", "gems", "test"), ("emotify", "gems", "all")],
                   "4q": [("4q", "quadrants", "test"), ("4q", "quadrants", "all")]}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["emotify", "4q"], choices=list(DATASETS))
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

    import torch
    torch.set_num_threads(args.threads)
    config = TrainConfig(datasets=tuple(args.datasets), encoder=args.encoder, targets=args.targets,
                         lam=args.lam, bandwidth=args.bandwidth or None, quantile=args.quantile,
                         variant=args.variant, seed=args.seed, max_epochs=args.epochs, lr=args.lr,
                         max_segments=args.max_segments)
    everything = list(DATASETS)
    tracks = {d: load_tracks(d) for d in everything}
    features = {d: load_features(args.encoder, d, args.features_dir,
                                 max_segments=args.max_segments) for d in everything}
    result = train(config, {d: features[d] for d in args.datasets},
                   {d: tracks[d] for d in args.datasets})
    tasks = in_domain_tasks(args.datasets)
    for d in everything:
        if d not in args.datasets:
            tasks += ZERO_SHOT_TASKS[d]
    scores = evaluate_all(result.adapter, tasks, features, tracks)
    given = sys.argv[1:] if argv is None else list(argv)
    if "--note" in given:  # the note is stored on its own
        i = given.index("--note")
        given = given[:i] + given[i + 2:]
    card = result.card({"command": "python train/train.py " + " ".join(given)})
    if args.note:
        card["note"] = args.note
    card["metrics"].update({name: {k: v for k, v in s.items() if k != "per_label_f1"}
                            for name, s in scores.items()})
    card["per_label_f1"] = {name: s["per_label_f1"] for name, s in scores.items()}
    path = save_adapter(result.adapter, args.out, card)
    print(f"saved {path} (best epoch {result.best_epoch}, validation F1 "
          f"{result.best_val_f1:.3f}, {result.seconds:.0f} s)")
    for name, s in scores.items():
        print(f"{name:28s} song F1 vote {s['f1_song_vote']:.3f} mean {s['f1_song_mean']:.3f} "
              f"segment {s['f1_segment']:.3f} ROC-AUC {s['roc_auc_song']:.3f}  "
              f"(most frequent {s['baselines']['most_frequent']:.3f}, "
              f"random {s['baselines']['random']:.3f})")


if __name__ == "__main__":
    main()
