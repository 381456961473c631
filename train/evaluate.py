"""Score a saved adapter on cached features: macro-F1 (segment, song vote, song mean) at
top-k, macro ROC-AUC and PR-AUC, per-label F1, and the two trivial baselines.

    python train/evaluate.py --adapter musicnn-default
    python train/evaluate.py --adapter runs/x.safetensors --task emotify/gems/all 4q/quadrants/test
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emoalign.answer.adapter import load_adapter  # noqa: E402
from emoalign.learn.datasets import load_tracks  # noqa: E402
from emoalign.learn.evaluation import evaluate_all  # noqa: E402
from emoalign.learn.features import load_features  # noqa: E402

DEFAULT_TASKS = ["emotify/gems/test", "emotify/gems/all", "4q/allmusic/test",
                 "4q/quadrants/test", "4q/quadrants/all"]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--adapter", default="musicnn-default", help="shipped name or .safetensors")
    p.add_argument("--task", nargs="+", default=DEFAULT_TASKS,
                   help="dataset/label_set/split (split: train, validation, test, all)")
    p.add_argument("--features-dir", default=None)
    p.add_argument("--max-segments", type=int, default=None,
                   help="default: the value in the adapter's card")
    p.add_argument("--json", default=None, help="also write all metrics here")
    args = p.parse_args(argv)

    adapter, card = load_adapter(args.adapter)
    max_segments = args.max_segments or card.get("data", {}).get("max_segments_per_song")
    tasks = [tuple(t.split("/")) for t in args.task]
    datasets = sorted({t[0] for t in tasks})
    features = {d: load_features(card["encoder"], d, args.features_dir, max_segments=max_segments)
                for d in datasets}
    tracks = {d: load_tracks(d) for d in datasets}
    results = evaluate_all(adapter, tasks, features, tracks)
    trained = set(card.get("datasets", []))
    print(f"adapter {args.adapter}: encoder {card['encoder']}, variant {card.get('variant')}, "
          f"trained on {', '.join(sorted(trained))}, lambda {card.get('lambda')}")
    header = (f"{'task':26s} {'k':>2s} {'songs':>5s} {'seg F1':>7s} {'vote F1':>7s} "
              f"{'mean F1':>7s} {'ROC-AUC':>7s} {'PR-AUC':>7s} {'freq':>6s} {'rand':>6s}")
    print(header)
    for (dataset, _, split), (name, r) in zip(tasks, results.items()):
        tag = "  (zero-shot)" if dataset not in trained else (
            "  (includes training tracks)" if split in ("train", "all") else "")
        print(f"{name:26s} {r['k']:2d} {r['n_songs']:5d} {r['f1_segment']:7.3f} "
              f"{r['f1_song_vote']:7.3f} {r['f1_song_mean']:7.3f} {r['roc_auc_song']:7.3f} "
              f"{r['pr_auc_song']:7.3f} {r['baselines']['most_frequent']:6.3f} "
              f"{r['baselines']['random']:6.3f}{tag}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
