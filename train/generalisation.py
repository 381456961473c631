"""Leave-one-collection-out benchmark: the project's main quality number.

    python -m train.generalisation                       # 3 seeds, every config
    python -m train.generalisation --seeds 42 --configs piano-balanced

For each collection in ../shared/data (emotify, 4q, vgmidi, memomusic) an adapter and a
valence/arousal head are trained on the others and tested on every track of the one left out,
which no part of the model has seen. The piano sets are trained on their FluidR3 renders and
tested on their MuseScore renders, a soundfont never trained on (MemoMusic also on its real
recordings). Scores are calibrated against the training collections only. Per held-out set:
quadrant accuracy and macro-F1 (from valence/arousal, and from quadrant words), GEMS top-3
macro-F1 (Emotify), valence/arousal ROC-AUC and Spearman, the share of the most-predicted
quadrant, and trivial baselines. Then the in-domain check: each config trained on every
collection's train split, scored on the test splits next to the shipped adapter.
Writes results/generalisation.md and .json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emoalign.learn import metrics  # noqa: E402
from emoalign.answer.calibration import Calibrator, embed_corpus  # noqa: E402
from emoalign.learn.corpus import corpus_from_datasets, fit_corpus_head  # noqa: E402
from emoalign.learn.datasets import ground_truth, load_tracks  # noqa: E402
from emoalign.learn.evaluation import TextCache  # noqa: E402
from emoalign.text.labels import load_label_set  # noqa: E402
from emoalign.answer.valence_arousal import VA_MODES, pole_scores, quadrant_of  # noqa: E402

RESULTS = Path(__file__).resolve().parent.parent / "results"
RUNS = Path(__file__).resolve().parent.parent / "runs" / "generalisation"  # git-ignored
TRAIN_RENDER, TEST_RENDER = "fluidr3", "musescore"
COLLECTIONS = ("emotify", "4q", "vgmidi", "memomusic")
TEST_SETS = {"emotify": ["emotify"], "4q": ["4q"], "vgmidi": [f"vgmidi@{TEST_RENDER}"],
             "memomusic": [f"memomusic@{TEST_RENDER}", "memomusic@audio"]}
# name -> (piano sets trained on, domain-balanced sampling, lambda); all use Mean Shift cluster
# targets and the per-segment adapter.
CONFIGS = {"base": (False, False, 0.5), "lambda1": (False, False, 1.0),
           "piano": (True, False, 0.5), "piano-balanced": (True, True, 0.5)}
ALL_TONAL = "tonal-all16"  # the VA method whose valence reads all 16 tonal features
CALIBRATIONS = ("raw", "zscore", "percentile", "percentile+prompts", "percentile-descriptions")
PROMPTS = ("{}", "music that feels {}", "{} music")  # the prompt-ensemble lever (word side only)


def word_vectors(labels: list[str], kind: str) -> np.ndarray:
    """`-descriptions`: bare labels, without the describing words of labels.label_descriptions."""
    if not kind.endswith("+prompts"):
        return TextCache.embed(labels, described=not kind.endswith("-descriptions"))
    mean = np.mean([TextCache.embed([p.format(w) for w in labels]) for p in PROMPTS], axis=0)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)
MAX_SEGMENTS = 3  # per song while training (Emotify's 6 become 3 spread ones)
EARLY_STOP = 8  # epochs without a better validation F1
SKIP_UNCACHED = False  # --smoke: use whatever the feature caches hold (a quick check of the code)


def training_sets(held_out: str | None, piano: bool) -> list[str]:
    out = [c for c in ("emotify", "4q") if c != held_out]
    if piano:
        out += [f"{c}@{TRAIN_RENDER}" for c in ("vgmidi", "memomusic") if c != held_out]
    return out


_TRAINED: dict[tuple, object] = {}  # folds that train on the same sets share one adapter


def train_adapter(datasets: list[str], balanced: bool, seed: int, epochs: int, lam: float):
    """The shipped recipe on `datasets` (at most MAX_SEGMENTS spread segments per song, to fit
    the benchmark in a session on 2 cores); the same run is trained once per process."""
    from emoalign.learn.training import TrainConfig, train
    key = (tuple(datasets), balanced, seed, epochs, lam)
    if key not in _TRAINED:
        config = TrainConfig(datasets=tuple(datasets), targets="clusters", lam=lam, seed=seed,
                             balanced=balanced, max_epochs=epochs, early_stop=EARLY_STOP,
                             max_segments=MAX_SEGMENTS)
        _TRAINED[key] = train(config, progress=False)
    return _TRAINED[key].adapter


def calibrate(kind: str, reference: np.ndarray, weights: np.ndarray, values: np.ndarray):
    if kind == "raw":
        return values
    if kind == "zscore":
        mean = weights @ reference
        std = np.sqrt(weights @ (reference - mean) ** 2) + 1e-9
        return (values - mean) / std
    return Calibrator(reference, weights).percentile(values)


def scored(kind: str, words: np.ndarray, reference, test) -> np.ndarray:
    """The test songs' scores for `words` under one calibration kind."""
    raw_ref, raw_test = reference.song_embeddings @ words.T, test.song_embeddings @ words.T
    return calibrate(kind.split("+")[0], raw_ref, reference.weights, raw_test)


def evaluate_fold(adapter, reference, heads, test_set: str) -> dict:
    """Every metric on every track of `test_set`; `reference` is the training collections'
    corpus, already embedded under `adapter`."""
    test, _ = corpus_from_datasets([test_set], skip_uncached=SKIP_UNCACHED)
    embed_corpus(adapter, test)
    tracks = load_tracks(test_set)
    out = {"n_songs": len(test)}
    weights = reference.weights
    label_sets = ["gems"] if test_set == "emotify" else ["quadrants"]
    for label_set in label_sets:
        labels = list(load_label_set(label_set).labels)
        vectors = {kind: word_vectors(labels, kind) for kind in CALIBRATIONS}
        if label_set == "gems":
            where = {t: i for i, t in enumerate(tracks.ids)}
            rows = [where[i.split("/", 1)[1]] for i in test.ids]
            truth = ground_truth(tracks, "gems", labels)[rows]
            for kind in CALIBRATIONS:
                scores = scored(kind, vectors[kind], reference, test)
                out[f"gems_f1/{kind}"] = metrics.macro_f1(truth, metrics.top_k(scores, 3))
            out["gems_f1/random"] = metrics.random_baseline(truth, 3)
        else:
            for kind in CALIBRATIONS:
                scores = scored(kind, vectors[kind], reference, test)
                q = metrics.quadrant_metrics(test.quadrant, scores.argmax(axis=1) + 1)
                out.update({f"words_{k}/{kind}": v for k, v in q.items()})
    if test_set != "emotify":
        truth_va = np.stack([test.valence, test.arousal], axis=1)
        predictions = {mode: (head.song_values(reference.features, reference.tonal, reference.offsets),
                              head.song_values(test.features, test.tonal, test.offsets))
                       for mode, head in heads.items()}
        predictions["poles"] = (pole_scores(reference.song_embeddings, TextCache.embed),
                                pole_scores(test.song_embeddings, TextCache.embed))
        for mode, (ref, pred) in predictions.items():
            va = Calibrator(ref, weights).signed(pred)
            for j, name in enumerate(("valence", "arousal")):
                m = metrics.continuous_metrics(truth_va[:, j], va[:, j])
                out.update({f"{name}_{k}/{mode}": v for k, v in m.items()})
            q = metrics.quadrant_metrics(test.quadrant, quadrant_of(va[:, 0], va[:, 1]))
            out.update({f"va_{k}/{mode}": v for k, v in q.items()})
        baselines = metrics.quadrant_baselines(test.quadrant, reference.quadrant[reference.quadrant > 0])
        out.update({f"quadrant_f1/{k}": v for k, v in baselines.items()})
    return out


def fit_heads(reference, targets: np.ndarray) -> dict:
    heads = {mode: fit_corpus_head(reference, targets, mode) for mode in VA_MODES}
    # the ablation of VALENCE_TONAL: valence from all 16 tonal features
    heads[ALL_TONAL] = fit_corpus_head(reference, targets, "tonal", valence_subset=False)
    return heads


def held_out_runs(configs: list[str], seeds: list[int], epochs: int, log) -> list[dict]:
    rows = []
    for name in configs:
        piano, balanced, lam = CONFIGS[name]
        for held_out in COLLECTIONS:
            sets = training_sets(held_out, piano)
            # the head and the reference always see every other collection, as in the product
            # (train.reference); only the adapter's training sets change with the config
            reference, targets = corpus_from_datasets(training_sets(held_out, True),
                                                      skip_uncached=SKIP_UNCACHED)
            heads = fit_heads(reference, targets)
            for seed in seeds:
                start = time.time()
                adapter = train_adapter(sets, balanced, seed, epochs, lam)
                embed_corpus(adapter, reference)  # once per adapter, for all its test sets
                for test_set in TEST_SETS[held_out]:
                    result = evaluate_fold(adapter, reference, heads, test_set)
                    rows.append({"config": name, "held_out": held_out, "test_set": test_set,
                                 "seed": seed, **result})
                    log(f"{name} -{held_out} {test_set} seed {seed}: "
                        f"{time.time() - start:.0f} s; " + summary(rows[-1]))
    return rows


def in_domain_runs(configs: list[str], seeds: list[int], epochs: int, log) -> list[dict]:
    from emoalign.answer.adapter import load_adapter
    from emoalign.learn.evaluation import evaluate_all, in_domain_tasks
    from emoalign.learn.features import load_features
    tasks = in_domain_tasks(["emotify", "4q"])
    tracks = {d: load_tracks(d) for d in ("emotify", "4q")}
    features = {d: load_features("musicnn", d) for d in tracks}

    def scores(adapter) -> dict:
        return {task: s["f1_song_vote"] for task, s in
                evaluate_all(adapter, tasks, features, tracks, per_label=False,
                             baselines=False).items()}

    from emoalign.answer.adapter import save_adapter
    rows = [{"config": "shipped (today)", "seed": 0, **scores(load_adapter("musicnn-default")[0])}]
    for name in configs:
        piano, balanced, lam = CONFIGS[name]
        for seed in seeds:
            sets = training_sets(None, piano)
            adapter = train_adapter(sets, balanced, seed, epochs, lam)
            result = _TRAINED[(tuple(sets), balanced, seed, epochs, lam)]
            save_adapter(adapter, RUNS / f"{name}-seed{seed}.safetensors",
                         result.card({"benchmark": "train.generalisation in-domain run"}))
            rows.append({"config": name, "seed": seed, **scores(adapter)})
            log(f"in-domain {name} seed {seed}: {rows[-1]}")
    return rows


def summary(row: dict) -> str:
    keys = [k for k in ("va_macro_f1/fused", "valence_roc_auc/fused", "gems_f1/percentile",
                        "words_macro_f1/percentile") if k in row]
    return ", ".join(f"{k} {row[k]:.3f}" for k in keys)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 43, 44])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--skip-in-domain", action="store_true")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 is fastest for this small model; run seeds in "
                             "parallel processes with --seeds and --out, then merge)")
    parser.add_argument("--smoke", action="store_true",
                        help="check the code on whatever is cached: not a result")
    parser.add_argument("--out", default=str(RESULTS / "generalisation"))
    args = parser.parse_args(argv)
    global SKIP_UNCACHED
    SKIP_UNCACHED = args.smoke
    import torch
    torch.set_num_threads(args.threads)
    start = time.time()
    log = lambda text: print(f"[{time.time() - start:6.0f} s] {text}", flush=True)  # noqa: E731
    held = held_out_runs(args.configs, args.seeds, args.epochs, log)
    domain = [] if args.skip_in_domain else in_domain_runs(args.configs, args.seeds, args.epochs, log)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(
        {"held_out": held, "in_domain": domain, "seconds": time.time() - start,
         "seeds": args.seeds, "configs": args.configs}, indent=1, default=float))
    from train.generalisation_report import write_report
    parts = sorted(out.parent.glob("generalisation*.json"))  # seeds run in parallel processes
    write_report(parts, RESULTS / "generalisation.md")
    log(f"wrote {RESULTS / 'generalisation.md'} from {len(parts)} run file(s)")


if __name__ == "__main__":
    main()
