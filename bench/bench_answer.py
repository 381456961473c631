"""How far the answer card can be trusted, on music the answer has not seen.

    python bench/bench_answer.py                 # every table; writes results/answer.md and .json
    python bench/bench_answer.py --smoke         # a tiny run that checks the code (the test suite)

Reads the shipped reference corpus (assets/reference/musicnn.safetensors: every clip's musicnn
and tonal features, and its song embeddings under the shipped adapter) and the datasets' labels
(../shared/data or $EMOALIGN_DATA; no audio). Four tables:

1. **Valence/arousal, the selection protocol.** Each valence/arousal head is fitted without
   the songs it is scored on and read against the songs it was fitted on. Recordings: 4Q held
   out; 4Q by 5-fold cross-validation grouped by artist (the rest of 4Q and every other set is
   fitted on: closest to a new pop song); MemoMusic's real recordings (MemoMusic held out);
   Emotify's 400 tracks scored against its listeners' GEMS votes read as valence/arousal
   (valence_arousal.gems_valence_arousal; Emotify held out). Piano: VGMIDI and MemoMusic
   renders, each held out; with the FluidR3 feature caches (train/render.py,
   train/extract.py) they are tested on FluidR3 renders, a piano sound the head never saw.
   Figures are rank correlations with the listeners: Spearman for ratings, Somers' D =
   2 AUC - 1 for quadrant signs (4Q; 0 is chance for both). The product ships the head whose
   worse domain mean is highest.
2. **Words that agree with the reading** (the shipped adapter, on songs it was not trained
   on: the test splits of Emotify and 4Q, every piano song): how often the best plain mood word
   lies in the reading's quadrant, the quadrant words' macro-F1 against the true quadrant, and
   Emotify's GEMS top-3 macro-F1, with calibrated cosines alone and blended with the plane.
3. **Not music**: the share of real songs the music check flags (5-fold cross-validation over
   the reference corpus and the non-music clips), and of held-out non-music clips it passes.
4. **Re-scoring speed**: a new word list on an analysed song.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from emoalign.answer.calibration import (Calibrator, ReferenceCorpus,  # noqa: E402
                                         load_reference, reference_path)
from emoalign.answer.valence_arousal import TONAL_SHARE, VA_MODES, quadrant_of  # noqa: E402
from emoalign.learn import metrics  # noqa: E402
from emoalign.learn.corpus import (PIANO_COLLECTIONS, corpus_from_datasets,  # noqa: E402
                                   corpus_targets, held_out_reader)

RESULTS = REPO / "results"
CV_FOLDS = 5
# Heads compared: every mode, plus the gated head at other tonal shares (recordings, piano).
BLEND_WEIGHTS, BLEND_WIDTHS = (0.2, 0.35, 0.5, 0.65), (0.35, 0.5, 0.7)  # the blend's sweep
SHARES = ((0.5, 0.8), (0.5, 0.6), (0.4, 0.7), (0.6, 0.7), (0.5, 0.9))


def rank_correlation(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Spearman for graded truth; Somers' D (2 AUC - 1) when the truth has two values."""
    ok = np.isfinite(truth)
    truth, predicted = truth[ok], predicted[ok]
    if len(np.unique(truth)) == 2:
        from sklearn.metrics import roc_auc_score
        return float(2 * roc_auc_score(truth > truth.mean(), predicted) - 1)
    from scipy.stats import spearmanr
    return float(spearmanr(truth, predicted).statistic)


def folds(corpus: ReferenceCorpus, artists: dict[str, str], smoke: bool) -> list[tuple]:
    """(set, domain, training songs (N,) bool, test songs (N,) bool, another corpus the
    figures are taken on instead, or None)."""
    collection = np.array([d.split("@")[0] for d in corpus.datasets])
    sets = np.array([i.split("/")[0] for i in corpus.ids])
    out = [("4Q held out", "recordings", collection != "4q", collection == "4q", None)]
    q = np.where(collection == "4q")[0]
    groups = np.array([artists.get(corpus.ids[i].split("/", 1)[1], str(i)) for i in q])
    from sklearn.model_selection import GroupKFold
    for k, (_, test) in enumerate(GroupKFold(CV_FOLDS).split(q, groups=groups)):
        if smoke and k:
            break
        train = collection != "4q"
        train[np.setdiff1d(q, q[test])] = True
        mask = np.zeros(len(corpus), bool)
        mask[q[test]] = True
        out.append(("4Q 5-fold CV", "recordings", train, mask, None))
    out.append(("MemoMusic recordings", "recordings", collection != "memomusic",
                sets == "memomusic@audio", None))
    out.append(("Emotify (listeners' votes)", "recordings", collection != "emotify",
                collection == "emotify", None))
    for name in PIANO_COLLECTIONS:
        rendered = sets == f"{name}@musescore"
        try:  # FluidR3 renders: a piano sound no fitted song has
            other = corpus_from_datasets([f"{name}@fluidr3"])[0]
            out.append((f"{name} (FluidR3, unseen sound)", "piano", collection != name, rendered, other))
        except (OSError, KeyError, ValueError):
            out.append((f"{name} (MuseScore render)", "piano", collection != name, rendered, None))
    return out


def head_variants(smoke: bool) -> dict[str, tuple[str, tuple[float, float]]]:
    variants = {mode: (mode, TONAL_SHARE[mode]) for mode in VA_MODES}
    if not smoke:
        variants.update({f"gated {r:.1f}/{p:.1f}": ("gated", (r, p)) for r, p in SHARES})
    return variants


def va_table(corpus, seg_targets, fold_list, variants) -> tuple[list[dict], dict]:
    """One row per head: per set and domain mean valence/arousal rank correlations and
    quadrant macro-F1; and each head's held-out readings of the reference songs."""
    rows, readings = [], {}
    for name, (mode, shares) in variants.items():
        per_set: dict[str, dict] = {}
        for set_name, domain, train, test, other in fold_list:
            read = held_out_reader(corpus, seg_targets, train, mode, shares)
            tested = corpus.select(test)
            readings.setdefault(name, {}).update(zip(tested.ids, read(tested)))
            tested = other if other is not None else tested
            va, truth = read(tested), np.stack([tested.valence, tested.arousal], axis=1)
            entry = per_set.setdefault(set_name, {"domain": domain, "v": [], "a": [], "q": []})
            entry["v"].append(rank_correlation(truth[:, 0], va[:, 0]))
            entry["a"].append(rank_correlation(truth[:, 1], va[:, 1]))
            known = np.isfinite(truth).all(axis=1)
            entry["q"].append(metrics.quadrant_metrics(
                quadrant_of(truth[known, 0], truth[known, 1]),
                quadrant_of(va[known, 0], va[known, 1]))["macro_f1"])
        row = {"head": name, "sets": {}}
        for set_name, e in per_set.items():
            row["sets"][set_name] = {"domain": e["domain"], "valence": float(np.mean(e["v"])),
                                     "arousal": float(np.mean(e["a"])),
                                     "quadrant_f1": float(np.mean(e["q"]))}
        for domain in ("recordings", "piano"):
            mine = [v for v in row["sets"].values() if v["domain"] == domain]
            row[f"{domain} valence"] = float(np.mean([v["valence"] for v in mine]))
            row[f"{domain} arousal"] = float(np.mean([v["arousal"] for v in mine]))
        row["worse valence"] = min(row["recordings valence"], row["piano valence"])
        rows.append(row)
    return rows, readings


def words_table(corpus, readings, weight: float | None = None, width: float | None = None
                ) -> list[dict]:
    """Words against readings on songs the shipped adapter never saw (the blend's weight and
    width: plane.py's unless given)."""
    from emoalign.learn.datasets import ground_truth, load_tracks
    from emoalign.text.labels import load_label_set
    from emoalign.text.labels import DEFAULT_LABELS
    from emoalign.answer.plane import (AGREEMENT_WIDTH, ANCHORS, PLANE_WEIGHT, agreement, blend,
                                       place_words)
    from emoalign.text.encoder import TextEncoder

    text = TextEncoder()
    anchors = list(ANCHORS)
    anchor_vectors, anchor_places = text.embed(anchors), np.array([ANCHORS[w] for w in anchors])
    splits = {}
    for d in ("emotify", "4q"):
        tracks = load_tracks(d)
        splits.update({f"{d}/{t}": s for t, s in zip(tracks.ids, tracks.splits)})
    unseen = np.array([splits.get(i, "test") == "test" for i in corpus.ids])
    sets = np.array([i.split("/")[0] for i in corpus.ids])
    out = []
    vocabularies = {"moods": DEFAULT_LABELS, "quadrants": "quadrants", "gems": "gems"}
    vectors = {k: text.embed(list(load_label_set(v).labels)) for k, v in vocabularies.items()}
    places = {k: place_words(v, anchor_vectors, anchor_places) for k, v in vectors.items()}
    for set_name, chosen in (("4Q test split", (sets == "4q") & unseen),
                             ("Emotify test split", (sets == "emotify") & unseen),
                             ("MemoMusic recordings", sets == "memomusic@audio"),
                             ("VGMIDI", sets == "vgmidi@musescore"),
                             ("MemoMusic renders", sets == "memomusic@musescore")):
        ids = corpus.ids[chosen]
        va = np.array([readings[i] for i in ids])
        truth = np.stack([corpus.valence[chosen], corpus.arousal[chosen]], axis=1)
        emb = corpus.song_embeddings[chosen]
        others = ~chosen  # calibrate against the other songs
        row = {"set": set_name, "songs": int(chosen.sum())}
        for kind in ("cosine only", "blended"):
            def scores(vocab):
                raw = emb @ vectors[vocab].T
                cal = Calibrator(corpus.song_embeddings[others] @ vectors[vocab].T,
                                 corpus.select(others).weights).percentile(raw)
                if kind == "cosine only":
                    return cal
                xy, affect = places[vocab]
                return blend(cal, agreement(va, xy, width or AGREEMENT_WIDTH), affect,
                             PLANE_WEIGHT if weight is None else weight)
            best = scores("moods").argmax(axis=1)
            xy = places["moods"][0][best]
            row[f"best word in the reading's quadrant ({kind})"] = float(np.mean(
                quadrant_of(xy[:, 0], xy[:, 1]) == quadrant_of(va[:, 0], va[:, 1])))
            known = np.isfinite(truth).all(axis=1)
            if known.any():
                row[f"quadrant words F1 ({kind})"] = metrics.quadrant_metrics(
                    quadrant_of(truth[known, 0], truth[known, 1]),
                    scores("quadrants")[known].argmax(axis=1) + 1)["macro_f1"]
            if set_name.startswith("Emotify"):
                tracks = load_tracks("emotify")
                where = {t: i for i, t in enumerate(tracks.ids)}
                gems = list(load_label_set("gems").labels)
                gt = ground_truth(tracks, "gems", gems)[[where[i.split("/", 1)[1]] for i in ids]]
                row[f"GEMS top-3 F1 ({kind})"] = metrics.macro_f1(gt, metrics.top_k(scores("gems"), 3))
        out.append(row)
    return out


def _words_summary(rows: list[dict]) -> dict:
    """Means over the sets of the blended figures (for the sweep)."""
    key = lambda name: [r[name] for r in rows if name in r]  # noqa: E731
    return {"best word in quadrant": float(np.mean(key("best word in the reading's quadrant (blended)"))),
            "quadrant words F1": float(np.mean(key("quadrant words F1 (blended)"))),
            "GEMS top-3 F1": float(np.mean(key("GEMS top-3 F1 (blended)"))),
            "GEMS top-3 F1, cosine only": float(np.mean(key("GEMS top-3 F1 (cosine only)")))}


def music_check_table(corpus, smoke: bool) -> dict:
    """Real songs flagged as not music (5-fold CV over both classes) and held-out non-music
    clips passed as music (the check fitted on every reference song and the fitting clips)."""
    from sklearn.model_selection import StratifiedKFold

    from emoalign.answer.confidence import MUSIC_THRESHOLD, fit_music_check, song_inputs
    from train.nonmusic import FIT_SEEDS, TEST_SEEDS, encoded

    fit = encoded(range(0, 2) if smoke else FIT_SEEDS)
    held_out = encoded(range(1000, 1001) if smoke else TEST_SEEDS)
    music = song_inputs(corpus.features, corpus.tonal, corpus.offsets)
    noise = song_inputs(fit["features"], fit["tonal"], fit["offsets"])
    x = np.vstack([music, noise])
    y = np.r_[np.ones(len(music), bool), np.zeros(len(noise), bool)]
    p = np.zeros(len(x))
    for train, test in StratifiedKFold(2 if smoke else 5, shuffle=True, random_state=0).split(x, y):
        m, n = train[y[train]], train[~y[train]]
        check = fit_music_check(x[m], x[n], corpus.weights[m])
        p[test] = [check.probability(row[None, :music.shape[1] - corpus.tonal.shape[1]],
                                     row[None, music.shape[1] - corpus.tonal.shape[1]:]) for row in x[test]]
    flagged = p < MUSIC_THRESHOLD
    out = {"real songs flagged": {c: float(flagged[:len(music)][corpus.datasets == c].mean())
                                  for c in np.unique(corpus.datasets)}}
    out["real songs flagged"]["all"] = float(flagged[:len(music)].mean())
    check = fit_music_check(music, noise, corpus.weights)
    d = corpus.features.shape[1]
    test = song_inputs(held_out["features"], held_out["tonal"], held_out["offsets"])
    caught = np.array([check.probability(r[None, :d], r[None, d:]) < MUSIC_THRESHOLD for r in test])
    out["held-out non-music flagged"] = {k: float(caught[held_out["kinds"] == k].mean())
                                         for k in np.unique(held_out["kinds"])}
    out["held-out non-music flagged"]["all"] = float(caught.mean())
    out["clips"] = {"fitted on": int(len(noise)), "held out": int(len(test))}
    return out


def rescoring_speed(repeat: int = 20) -> dict:
    """Milliseconds to score a new word list on an analysed song (after the first list)."""
    from emoalign.answer.pipeline import EmotionPipeline

    pipe = EmotionPipeline()
    example = sorted((REPO / "assets" / "examples").glob("*.ogg"))[0]
    song = pipe.analyze(example)
    pipe.predict(song)
    times = []
    for i in range(repeat):
        words = [f"{w} {i}" for w in ("wistful", "furious", "serene", "bittersweet", "eerie")]
        start = time.perf_counter()
        pipe.predict(song, words)
        times.append(1000 * (time.perf_counter() - start))
    return {"new word list, median ms": float(np.median(times)), "max ms": float(np.max(times))}


def markdown(va_rows, chosen, words, music, speed, sweep=()) -> str:
    sets = list(va_rows[0]["sets"])
    lines = ["# The answer on music it has not seen (bench/bench_answer.py)", "",
             "## Valence/arousal heads: rank correlation of valence with listeners", "",
             "Spearman for ratings, Somers' D (2 AUC - 1) for quadrant signs; 0 is chance. "
             "Each head is fitted without the songs it is scored on. The product ships "
             f"**{chosen}**, the head whose worse domain mean is highest.", "",
             "| head | " + " | ".join(sets) + " | recordings mean | piano mean | worse |",
             "|---|" + "---:|" * (len(sets) + 3)]
    for r in va_rows:
        lines.append(f"| {r['head']} | " + " | ".join(f"{r['sets'][s]['valence']:+.3f}" for s in sets)
                     + f" | {r['recordings valence']:+.3f} | {r['piano valence']:+.3f} | "
                       f"**{r['worse valence']:+.3f}** |")
    best = next(r for r in va_rows if r["head"] == chosen)
    lines += ["", f"Arousal and quadrant macro-F1 of {chosen}:", "",
              "| set | arousal | quadrant macro-F1 |", "|---|---:|---:|"]
    lines += [f"| {s} | {v['arousal']:+.3f} | {v['quadrant_f1']:.3f} |" for s, v in best["sets"].items()]
    lines += ["", "## Words against the reading (shipped adapter, songs it was not trained on)", ""]
    keys = [k for k in words[0] if k not in ("set", "songs")] + ["GEMS top-3 F1 (cosine only)",
                                                                "GEMS top-3 F1 (blended)"]
    keys = list(dict.fromkeys(keys))
    lines += ["| set | songs | " + " | ".join(keys) + " |", "|---|---:|" + "---:|" * len(keys)]
    for w in words:
        lines.append(f"| {w['set']} | {w['songs']} | " + " | ".join(
            f"{w[k]:.3f}" if k in w else "-" for k in keys) + " |")
    if sweep:
        lines += ["", "The blend's weight and width (means over the sets above; held-out Emotify "
                      "GEMS top-3 F1 may drop by at most 0.02 from cosine only):", "",
                  "| weight | width | best word in the reading's quadrant | quadrant words F1 | "
                  "GEMS top-3 F1 |", "|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['weight']} | {r['width']} | {r['best word in quadrant']:.3f} | "
                  f"{r['quadrant words F1']:.3f} | {r['GEMS top-3 F1']:.3f} |" for r in sweep]
    lines += ["", "## Not music", "",
              f"Music check fitted on {music['clips']['fitted on']} generated clips; "
              f"{music['clips']['held out']} held-out clips (other seeds).", "",
              "| real songs flagged as not music (5-fold CV) | share |", "|---|---:|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in music["real songs flagged"].items()]
    lines += ["", "| held-out non-music flagged | share |", "|---|---:|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in music["held-out non-music flagged"].items()]
    lines += ["", f"## Re-scoring: a new word list on an analysed song: "
                  f"{speed['new word list, median ms']:.1f} ms median "
                  f"({speed['max ms']:.1f} ms at most)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny: one CV fold, few clips")
    parser.add_argument("--out", default=str(RESULTS / "answer"), help="writes OUT.md and OUT.json")
    args = parser.parse_args(argv)
    import csv

    from emoalign.paths import data_root
    corpus, _, _ = load_reference(reference_path("musicnn"))
    seg_targets, song_va = corpus_targets(corpus)
    corpus.valence, corpus.arousal = song_va[:, 0], song_va[:, 1]
    with open(data_root() / "4q" / "metadata.csv", newline="") as f:
        artists = {r["Song"]: r["Artist"] for r in csv.DictReader(f)}
    fold_list = folds(corpus, artists, args.smoke)
    va_rows, readings = va_table(corpus, seg_targets, fold_list, head_variants(args.smoke))
    chosen = max(va_rows, key=lambda r: r["worse valence"])["head"]
    for r in va_rows:
        print(f"{r['head']:18s} recordings {r['recordings valence']:+.3f}  piano "
              f"{r['piano valence']:+.3f}  worse {r['worse valence']:+.3f}  (arousal "
              f"{r['recordings arousal']:+.3f} / {r['piano arousal']:+.3f})")
    from emoalign.answer.reference import open_reference
    from emoalign.answer.valence_arousal import PRODUCT_MODE
    radius = open_reference("musicnn", corpus.features.shape[1])[0].neutral_radius
    held_out = np.array(list(readings[PRODUCT_MODE].values()))
    neutral = float(np.mean(np.hypot(held_out[:, 0], held_out[:, 1]) < radius))
    print(f"neutral band {radius}: {neutral:.3f} of the held-out readings")
    words = words_table(corpus, readings[PRODUCT_MODE])
    sweep = [] if args.smoke else [
        {"weight": w, "width": d, **_words_summary(words_table(corpus, readings[PRODUCT_MODE], w, d))}
        for w in BLEND_WEIGHTS for d in BLEND_WIDTHS]
    for row in sweep:
        print(row)
    music = music_check_table(corpus, args.smoke)
    speed = rescoring_speed(3 if args.smoke else 20)
    report = markdown(va_rows, chosen, words, music, speed, sweep) + (
        f"\n## Neutral band\n\nReadings nearer the centre than {radius} name no quadrant: "
        f"{100 * neutral:.1f}% of the held-out readings of the reference songs.\n")
    print(report)
    out = {"heads": va_rows, "chosen": chosen, "neutral": {"radius": radius, "share": neutral},
           "words": words, "blend_sweep": sweep,
           "music_check": music, "rescoring": speed}
    if not args.smoke:
        Path(args.out + ".md").write_text(report)
        Path(args.out + ".json").write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
