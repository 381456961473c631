"""The experiment grid: baselines 1 and 2 and the alignment regulariser, zero-shot and in-domain.

    python train/experiments.py                 # the full grid, 3 seeds, 2 worker processes
    python train/experiments.py --seeds 42 --epochs 5 --partial --out runs/smoke   # smoke test

Training groups (each trained once per seed; every trained model is scored on every task):
  4q       train 4Q's AllMusic moods   -> Z1 zero-shot Emotify GEMS (top-3), in-domain 4Q
  emotify  train Emotify's GEMS        -> Z2 zero-shot 4Q quadrants (top-1), in-domain Emotify
  both     train Emotify + 4Q          -> in-domain Emotify and 4Q (no zero-shot target left)
Configurations: B1 (own label embeddings as targets), B2 (cluster centres as targets),
AR-lambda (B2 plus the alignment regulariser, lambda in {0.5, 1, 2.5}). For "emotify" alone the
nine GEMS words form nine singleton clusters at the fixed bandwidth, so B2 equals B1 and is not
run; AR still applies (pairs of songs with disjoint GEMS labels are pushed apart).
Model selection always uses the training datasets' validation splits, never a target.
Writes <out>/experiments.json and <out>/experiments.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from emoalign.text.clusters import PAPER_BANDWIDTH  # noqa: E402
from emoalign.learn.datasets import DATASETS, load_tracks  # noqa: E402
from emoalign.learn.evaluation import evaluate_all  # noqa: E402
from emoalign.learn.features import load_features  # noqa: E402
from emoalign.learn.training import TrainConfig, prepare_run, train  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEEDS = (42, 43, 44)
LAMBDAS = (0.5, 1.0, 2.5)
GROUPS = {"4q": ("4q",), "emotify": ("emotify",), "both": ("emotify", "4q")}
TASKS = [("emotify", "gems", "test"), ("emotify", "gems", "all"), ("4q", "allmusic", "test"),
         ("4q", "quadrants", "test"), ("4q", "quadrants", "all")]
# (protocol, training group, task, what it is)
PROTOCOLS = [
    ("Z1", "4q", "emotify/test/gems", "zero-shot Emotify GEMS, test split (40), top-3"),
    ("Z1", "4q", "emotify/all/gems", "zero-shot Emotify GEMS, all 400 tracks, top-3"),
    ("Z2", "emotify", "4q/test/quadrants", "zero-shot 4Q quadrants, test split (90), top-1"),
    ("Z2", "emotify", "4q/all/quadrants", "zero-shot 4Q quadrants, all 900 tracks, top-1"),
    ("in-domain Emotify", "emotify", "emotify/test/gems", "Emotify test (40), GEMS top-3"),
    ("in-domain Emotify", "both", "emotify/test/gems", "Emotify test (40), GEMS top-3"),
    ("in-domain 4Q", "4q", "4q/test/allmusic", "4Q test (90), 172 AllMusic moods top-6"),
    ("in-domain 4Q", "both", "4q/test/allmusic", "4Q test (90), 172 AllMusic moods top-6"),
    ("in-domain 4Q (quadrants)", "4q", "4q/test/quadrants", "4Q test (90), quadrant words top-1"),
    ("in-domain 4Q (quadrants)", "both", "4q/test/quadrants", "4Q test (90), quadrant words top-1"),
]
METRICS = ("f1_song_vote", "f1_song_mean", "f1_segment", "roc_auc_song", "pr_auc_song")
PAPER = ("paper (MERT, MTG+CAL500): Emotify zero-shot 0.400, CLAP zero-shot 0.246, "
         "in-domain Emotify 0.442")


def configurations(song_variant: bool) -> list[dict]:
    """Every (group, config name, TrainConfig overrides) of the grid."""
    grid = []
    for group in GROUPS:
        names = [("B1", dict(targets="labels", lam=0.0))]
        if group != "emotify":
            names.append(("B2", dict(targets="clusters", lam=0.0)))
        names += [(f"AR-{lam:g}", dict(targets="clusters", lam=lam)) for lam in LAMBDAS]
        for name, overrides in names:
            grid.append(dict(group=group, name=name, variant="segment", **overrides))
            if song_variant:
                grid.append(dict(group=group, name=name, variant="song", **overrides))
    return grid


_STATE: dict = {}


def _worker_init(partial: bool, threads: int) -> None:
    import torch
    torch.set_num_threads(threads)
    tracks = {d: load_tracks(d) for d in DATASETS}
    features = {d: load_features("musicnn", d, max_segments=TrainConfig.max_segments)
                for d in DATASETS}
    if partial:  # smoke tests on an incomplete cache: only the cached tracks
        tracks = {d: t.restrict(features[d].track_ids.tolist()) for d, t in tracks.items()}
    _STATE.update(tracks=tracks, features=features, data={})


def run_one(spec: dict) -> dict:
    """Train one (config, seed) and score it on every task."""
    tracks, features = _STATE["tracks"], _STATE["features"]
    datasets = GROUPS[spec["group"]]
    config = TrainConfig(datasets=datasets, targets=spec["targets"], lam=spec["lam"],
                         variant=spec["variant"], seed=spec["seed"],
                         **spec.get("overrides", {}))
    key = (datasets, spec["targets"])
    if key not in _STATE["data"]:
        _STATE["data"][key] = prepare_run(config, {d: features[d] for d in datasets},
                                          {d: tracks[d] for d in datasets})
    result = train(config, {d: features[d] for d in datasets}, {d: tracks[d] for d in datasets},
                   progress=False, data=_STATE["data"][key])
    tasks = [t for t in TASKS if len(tracks[t[0]].subset(t[2]))]  # all of them unless --partial
    scores = evaluate_all(result.adapter, tasks, features, tracks, baselines=False)
    return {**{k: v for k, v in spec.items() if k != "overrides"},
            "best_epoch": result.best_epoch, "epochs": len(result.history),
            "validation_f1": result.best_val_f1, "seconds": result.seconds,
            "n_clusters": int(result.data.assignments.max()) + 1, "scores": scores}


def baselines(partial: bool) -> dict:
    from emoalign.learn.evaluation import eval_set, trivial_baselines
    _worker_init(partial, 1)
    out = {}
    for dataset, label_set, split in TASKS:
        if not len(_STATE["tracks"][dataset].subset(split)):
            continue
        ev = eval_set(_STATE["features"][dataset], _STATE["tracks"][dataset], label_set, split)
        out[ev.name] = trivial_baselines(ev)
    return out


def summarise(runs: list[dict]) -> dict:
    """mean and std over seeds for every (group, config, variant, task, metric)."""
    cells = defaultdict(list)
    for r in runs:
        cells[(r["group"], r["name"], r["variant"])].append(r)
    summary = {}
    for (group, name, variant), rs in cells.items():
        entry = {"seeds": [r["seed"] for r in rs],
                 "validation_f1": _ms([r["validation_f1"] for r in rs]),
                 "epochs": _ms([r["epochs"] for r in rs]), "tasks": {}}
        for task in rs[0]["scores"]:
            entry["tasks"][task] = {m: _ms([r["scores"][task][m] for r in rs]) for m in METRICS}
        summary[f"{group}|{name}|{variant}"] = entry
    return summary


def _ms(values) -> list[float]:
    values = np.asarray(values, dtype=float)
    return [float(values.mean()), float(values.std(ddof=0))]


def _fmt(ms) -> str:
    return f"{ms[0]:.3f} ± {ms[1]:.3f}"


def report(summary: dict, base: dict, runs: list[dict], wall: float, args) -> str:
    configs = sorted({k.split("|")[1] for k in summary}, key=lambda n: (n[0] != "B", n))
    variants = sorted({k.split("|")[2] for k in summary}, reverse=True)
    lines = ["# Experiments: musicnn features, zero-shot and in-domain", "",
             f"Generated by `python train/experiments.py` ({len(runs)} training runs, seeds "
             f"{', '.join(map(str, args.seeds))}, wall time {wall / 60:.1f} min on this 2-core CPU "
             f"with {args.workers} worker processes). Numbers are mean ± std over the seeds; the "
             "headline metric is song-level macro-F1 (each 10-s segment votes its top-k, the "
             "song takes the top-k of the votes).", "",
             f"For reference, {PAPER}.", ""]
    lines += _setup_text(runs)
    for variant in variants:
        lines += [f"## Song-level macro-F1 (segment vote), variant `{variant}`", "",
                  "| protocol | trained on | target | " + " | ".join(configs) +
                  " | most frequent | random |",
                  "|---|---|---|" + "---|" * len(configs) + "---|---|"]
        for protocol, group, task, what in PROTOCOLS:
            cells = []
            for name in configs:
                entry = summary.get(f"{group}|{name}|{variant}")
                ok = entry and task in entry["tasks"]
                cells.append(_fmt(entry["tasks"][task]["f1_song_vote"]) if ok else "—")
            b = base.get(task, {"most_frequent": float("nan"), "random": float("nan")})
            lines.append(f"| {protocol} | {group} | {what} | " + " | ".join(cells) +
                         f" | {b['most_frequent']:.3f} | {b['random']:.3f} |")
        lines += ["", "Validation macro-F1 (the model-selection metric, mean over the training "
                  "datasets' validation splits):", "",
                  "| trained on | " + " | ".join(configs) + " |", "|---|" + "---|" * len(configs)]
        for group in GROUPS:
            cells = [(_fmt(summary[f"{group}|{n}|{variant}"]["validation_f1"])
                      if f"{group}|{n}|{variant}" in summary else "—") for n in configs]
            lines.append(f"| {group} | " + " | ".join(cells) + " |")
        lines.append("")
    if len(variants) > 1:
        lines += _variant_table(summary, configs)
    lines += ["## All metrics", "",
              "| protocol | trained on | config | variant | target | segment F1 | song F1 "
              "(vote) | song F1 (mean emb.) | ROC-AUC | PR-AUC |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for protocol, group, task, what in PROTOCOLS:
        for variant in variants:
            for name in configs:
                entry = summary.get(f"{group}|{name}|{variant}")
                if not entry or task not in entry["tasks"]:
                    continue
                t = entry["tasks"][task]
                lines.append(f"| {protocol} | {group} | {name} | {variant} | {task} | "
                             f"{_fmt(t['f1_segment'])} | {_fmt(t['f1_song_vote'])} | "
                             f"{_fmt(t['f1_song_mean'])} | {_fmt(t['roc_auc_song'])} | "
                             f"{_fmt(t['pr_auc_song'])} |")
    lines += ["", "## Trivial baselines (song level, same tracks)", "",
              "| target | most frequent training labels | random k (mean of 100 draws) |",
              "|---|---|---|"]
    lines += [f"| {task} | {b['most_frequent']:.3f} | {b['random']:.3f} |"
              for task, b in base.items()]
    lines.append("")
    return "\n".join(lines)


PRIMARY = {"4q": "emotify/all/gems", "emotify": "4q/all/quadrants", "both": "emotify/test/gems"}


def _variant_table(summary: dict, configs: list[str]) -> list[str]:
    """Per group and config: validation F1 and the group's headline target, both variants."""
    lines = ["## Segment vs song variant", "",
             "Headline target per group: 4q -> zero-shot Emotify (all 400), emotify -> "
             "zero-shot 4Q quadrants (all 900), both -> in-domain Emotify test. Song-level vote "
             "macro-F1.", "",
             "| trained on | config | validation (segment) | validation (song) | target (segment) "
             "| target (song) |", "|---|---|---|---|---|---|"]
    deltas = []
    for group, task in PRIMARY.items():
        for name in configs:
            seg, song = (summary.get(f"{group}|{name}|{v}") for v in ("segment", "song"))
            if not seg or not song:
                continue
            deltas.append(seg["validation_f1"][0] - song["validation_f1"][0])
            lines.append(f"| {group} | {name} | {_fmt(seg['validation_f1'])} | "
                         f"{_fmt(song['validation_f1'])} | "
                         f"{_fmt(seg['tasks'][task]['f1_song_vote'])} | "
                         f"{_fmt(song['tasks'][task]['f1_song_vote'])} |")
    if deltas:
        lines += ["", f"Mean validation F1 difference, segment minus song: "
                  f"{np.mean(deltas):+.3f} over {len(deltas)} (group, config) pairs "
                  f"(segment better in {sum(d > 0 for d in deltas)})."]
    return lines + [""]


def _setup_text(runs: list[dict]) -> list[str]:
    c = TrainConfig()
    clusters = {r["group"]: r["n_clusters"] for r in runs if r["name"] != "B1"}
    return [
        "## Set-up", "",
        f"- Features: `musicnn` (the MTT network's 200-d penultimate layer, mean over the three "
        f"3-s patches of each 10-s segment), cached by `train/extract.py`; "
        + (f"every 10-s segment of every clip (Emotify about 6, 4Q about 3; a remainder of at "
           f"least 3 s is padded and kept)" if c.max_segments is None else
           f"at most {c.max_segments} evenly spread segments per clip")
        + ". Song level = vote (or mean embedding) over the segments.",
        f"- Adapter: input standardisation, Linear(200 -> {c.d_model}), {c.n_layers} x "
        f"TransformerEncoderLayer({c.d_model}, {c.n_heads} heads, ff {c.ff_dim}, dropout "
        f"{c.dropout}), LayerNorm, Linear({c.d_model} -> 384), L2 norm.",
        f"- Training: AdamW lr {c.lr:g}, weight decay {c.weight_decay}, {c.batch_songs} songs per "
        f"batch, ReduceLROnPlateau on validation macro-F1 (factor {c.lr_factor}, patience "
        f"{c.lr_patience}), early stop after {c.early_stop} epochs without improvement, at most "
        f"{c.max_epochs} epochs. Loss: cosine triplet (margin {c.margin}; positive = mean of the "
        f"song's target embeddings, negative = mean of {c.n_negatives} random non-positive targets "
        f"of the same dataset) + the hardest in-batch negative (weight {c.hard_weight}).",
        f"- Clusters: Mean Shift on the pooled vocabulary's MiniLM embeddings at the fixed "
        f"bandwidth {PAPER_BANDWIDTH} (the value the paper's quantile gives on MTG + CAL500). The "
        f"quantile-0.03 estimate is useless here: on the AllMusic moods it gives a bandwidth of "
        f"1.04 and a single cluster, on GEMS about 1e-8. Clusters: "
        + ", ".join(f"{g}: {n}" for g, n in sorted(clusters.items())) + ". Across the two "
        f"vocabularies the bandwidth merges e.g. sad/sadness, calm/calmness, nostalgic/nostalgia.",
        "- Grid: three training groups, each trained once per seed, and every trained model is "
        "scored on every target. `4q` (4Q train, AllMusic moods) serves Z1 (zero-shot Emotify "
        "GEMS) and in-domain 4Q; `emotify` (Emotify train, GEMS) serves Z2 (zero-shot 4Q "
        "quadrant words) and in-domain Emotify; `both` (both train splits) serves in-domain "
        "Emotify and 4Q, since no zero-shot target is left. B1 = own label embeddings as "
        "targets; B2 = cluster centres as targets; AR-lambda = B2 + the alignment regulariser. "
        "In the zero-shot groups B2 and AR act within one vocabulary (the AllMusic moods "
        "cluster into 163 groups; with Emotify alone the nine GEMS words are nine singleton "
        "clusters, so B2 would repeat B1 and is not run, while AR still pushes apart songs "
        "whose GEMS labels are disjoint).",
        "- Selection: the epoch with the best validation macro-F1 of the training datasets; "
        "zero-shot targets are never seen in training or selection. The zero-shot targets are "
        "also scored on all their tracks (never trained on), because 40 test tracks are noisy.",
        "- Ground truth: Emotify = top-3 GEMS labels by votes; 4Q = its AllMusic moods among the "
        "172 on >= 10 songs (k = 6, the mean count); quadrants = the 4Q quadrant, fixed words "
        "Q1 'happy, energetic', Q2 'angry, anxious', Q3 'sad, melancholic', Q4 'calm, peaceful'. "
        "Macro-F1 averages the labels that occur in the evaluated tracks.", ""]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    p.add_argument("--epochs", type=int, default=None, help="override max epochs (smoke tests)")
    p.add_argument("--no-song-variant", action="store_true",
                   help="skip the song-attention variant")
    p.add_argument("--song-configs", nargs="+",
                   default=["B1", "B2"] + [f"AR-{lam:g}" for lam in LAMBDAS],
                   help="configs also run with the song variant (default: all)")
    p.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    p.add_argument("--configs", nargs="+", default=None, help="only these configs (e.g. B1 AR-1)")
    p.add_argument("--partial", action="store_true", help="allow an incomplete feature cache")
    p.add_argument("--out", default=str(REPO / "results"))
    p.add_argument("--report-only", action="store_true",
                   help="rewrite experiments.md from an existing experiments.json")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.report_only:
        saved = json.loads((out / "experiments.json").read_text())
        args.seeds, args.workers = saved["setup"]["seeds"], saved["setup"]["workers"]
        (out / "experiments.md").write_text(report(saved["summary"], saved["baselines"],
                                                   saved["runs"], saved["setup"]["wall_seconds"],
                                                   args))
        return

    specs = []
    for cfg in configurations(song_variant=not args.no_song_variant):
        if cfg["variant"] == "song" and cfg["name"] not in args.song_configs:
            continue
        if cfg["group"] not in args.groups or (args.configs and cfg["name"] not in args.configs):
            continue
        for seed in args.seeds:
            spec = dict(cfg, seed=seed)
            if args.epochs:
                spec["overrides"] = dict(max_epochs=args.epochs)
            specs.append(spec)
    # longest first, so the two workers finish together
    specs.sort(key=lambda s: -len(GROUPS[s["group"]]) - (s["group"] == "4q"))
    print(f"{len(specs)} runs on {args.workers} workers")
    start = time.time()
    base = baselines(args.partial)
    runs = []
    ctx = mp.get_context("spawn")
    with ctx.Pool(args.workers, initializer=_worker_init,
                  initargs=(args.partial, args.threads)) as pool:
        for i, r in enumerate(pool.imap_unordered(run_one, specs), 1):
            runs.append(r)
            f1 = " ".join(f"{task.replace('/', ':')} {s['f1_song_vote']:.3f}"
                          for task, s in r["scores"].items())
            print(f"[{i}/{len(specs)} {time.time() - start:5.0f}s] {r['group']} {r['name']} "
                  f"{r['variant']} seed {r['seed']}: {r['epochs']} epochs "
                  f"({r['seconds']:.0f}s), val {r['validation_f1']:.3f} | {f1}", flush=True)
    wall = time.time() - start
    summary = summarise(runs)
    out.mkdir(parents=True, exist_ok=True)
    setup = {"config": TrainConfig().__dict__, "seeds": args.seeds, "tasks": TASKS,
             "protocols": PROTOCOLS, "wall_seconds": wall, "workers": args.workers,
             "partial_cache": args.partial}
    (out / "experiments.json").write_text(json.dumps(
        {"setup": setup, "baselines": base, "summary": summary, "runs": runs},
        indent=1, default=str) + "\n")
    (out / "experiments.md").write_text(report(summary, base, runs, wall, args))
    print(f"wrote {out / 'experiments.md'} ({wall / 60:.1f} min)")


if __name__ == "__main__":
    main()
