"""results/generalisation.md from the JSON files that train/generalisation.py writes.

    python -m train.generalisation_report                     # results/generalisation*.json
    python -m train.generalisation_report a.json b.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from emoalign.answer.valence_arousal import PRODUCT_MODE, VA_MODES
from train.generalisation import ALL_TONAL, CALIBRATIONS, CONFIGS

PRIMARY = ("4q", "vgmidi@musescore", "memomusic@musescore")  # the quadrant target's sets
PRODUCT_CONFIG = "base"  # the shipped adapter's recipe (see the in-domain table for why)
VA_METHODS = (*VA_MODES, ALL_TONAL, "poles")


def _values(rows, key):
    return [r[key] for r in rows if key in r and r[key] == r[key]]


def cell(rows, key, digits=3) -> str:
    values = _values(rows, key)
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def mean(rows, key) -> float:
    values = _values(rows, key)
    return float(np.mean(values)) if values else float("nan")


def _in_order(configs) -> list[str]:
    """Distinct configs in train.generalisation.CONFIGS order (run files merge in any order)."""
    order = ["shipped (today)", *CONFIGS]
    return sorted(dict.fromkeys(configs), key=lambda c: order.index(c) if c in order else len(order))


def best_config(held: list[dict]) -> str:
    """The adapter recipe with the best held-out word scores: mean of Emotify's GEMS F1 and
    the quadrant-word F1 of the primary sets (valence/arousal do not depend on the adapter)."""
    configs = list(dict.fromkeys(r["config"] for r in held))
    return max(configs, key=lambda c: np.nanmean(
        [mean([r for r in held if r["config"] == c and r["test_set"] == t],
              "gems_f1/percentile" if t == "emotify" else "words_macro_f1/percentile")
         for t in ("emotify", *PRIMARY)]))


def write_report(json_paths: list[str | Path], md_path: str | Path) -> None:
    """Merge one or more run files (e.g. one per seed, run in parallel) into the report."""
    parts = [json.loads(Path(p).read_text()) for p in json_paths]
    held = [r for d in parts for r in d["held_out"]]
    domain = [r for d in parts for r in d["in_domain"]]
    shipped = [r for r in domain if r["config"] == "shipped (today)"][:1]
    domain = shipped + [r for r in domain if r["config"] != "shipped (today)"]
    data = {"seconds": max(d["seconds"] for d in parts),
            "seeds": sorted({s for d in parts for s in d["seeds"]})}
    best_words = best_config(held)
    best = PRODUCT_CONFIG if any(r["config"] == PRODUCT_CONFIG for r in held) else best_words
    m = PRODUCT_MODE
    test_sets = list(dict.fromkeys(r["test_set"] for r in held))
    va_sets = [t for t in test_sets if t != "emotify"]  # the sets with valence/arousal
    rows_of = lambda c, t: [r for r in held if r["config"] == c and r["test_set"] == t]  # noqa: E731
    seeds = ", ".join(map(str, data["seeds"]))
    out = [
        "# Generalisation to held-out collections (leave one collection out)",
        "",
        f"Made by `python -m train.generalisation` in {data['seconds'] / 60:.0f} min on a 2-core "
        f"CPU (the longest of {len(parts)} run file(s) merged); seeds {seeds}; mean ± std over seeds. Each collection is held out in turn: the "
        "adapter, the valence/arousal head and the calibration reference see only the other "
        "collections; every track of the held-out one is scored. Piano sets train on FluidR3 "
        "renders and are tested on MuseScore renders (a soundfont never trained on); "
        "memomusic@audio is MemoMusic's 61 real recordings. Quadrants come from the signs of "
        "the calibrated valence/arousal (0 = the reference corpus's weighted median).",
        "",
        f"## The product: adapter recipe `{best}`, valence/arousal head `{m}`, percentile scores",
        "",
        f"(Best adapter recipe by held-out word scores alone: `{best_words}`; the shipped one "
        "must also stay within 0.02 of today in-domain, see the last table.)",
        "",
        "| held-out set | songs | quadrant macro-F1 | quadrant accuracy | most-predicted share "
        "| valence ROC-AUC | valence Spearman | arousal ROC-AUC | arousal Spearman "
        "| GEMS top-3 F1 | baselines (quadrant F1: most frequent / random; GEMS: random) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for t in test_sets:
        rows = rows_of(best, t)
        if not rows:
            continue
        base = (f"{cell(rows, 'quadrant_f1/most_frequent')} / {cell(rows, 'quadrant_f1/random')}"
                if t != "emotify" else f"{cell(rows, 'gems_f1/random')}")
        out.append(f"| {t} | {rows[0]['n_songs']} | {cell(rows, f'va_macro_f1/{m}')} | "
                   f"{cell(rows, f'va_accuracy/{m}')} | {cell(rows, f'va_max_share/{m}')} | "
                   f"{cell(rows, f'valence_roc_auc/{m}')} | {cell(rows, f'valence_spearman/{m}')} | "
                   f"{cell(rows, f'arousal_roc_auc/{m}')} | {cell(rows, f'arousal_spearman/{m}')} | "
                   f"{cell(rows, 'gems_f1/percentile')} | {base} |")
    primary = [mean(rows_of(best, t), f"va_macro_f1/{m}") for t in PRIMARY]
    out += ["", f"Mean quadrant macro-F1 over {', '.join(PRIMARY)}: **{np.nanmean(primary):.3f}** "
            "(target >= 0.50).", ""]
    shares = [(t, mean(rows_of(best, t), f"va_max_share/{m}")) for t in va_sets]
    out.append("Largest share of one predicted quadrant per set: "
               + ", ".join(f"{t} {s:.2f}" for t, s in shares) + " (target: none above 0.50).")
    out += ["", "Predicted quadrant shares (Q1/Q2/Q3/Q4), first seed: "
            + "; ".join(f"{t} {rows_of(best, t)[0].get(f'va_shares/{m}')}" for t, _ in shares), ""]

    out += ["## Ablation: what each lever does (held-out quadrant macro-F1 from valence/arousal, "
            "held-out GEMS top-3 F1, held-out valence ROC-AUC)", "",
            "| config | " + " | ".join(f"{t} quadrant F1" for t in va_sets)
            + " | emotify GEMS F1 | " + " | ".join(f"{t} valence AUC" for t in va_sets) + " |",
            "|---|" + "---:|" * (2 * (len(test_sets) - 1) + 1)]
    for c in _in_order(r["config"] for r in held):
        out.append(f"| {c} | " + " | ".join(cell(rows_of(c, t), f"va_macro_f1/{m}")
                                            for t in va_sets)
                   + f" | {cell(rows_of(c, 'emotify'), 'gems_f1/percentile')} | "
                   + " | ".join(cell(rows_of(c, t), f"valence_roc_auc/{m}")
                                for t in va_sets) + " |")
    out += ["", "Configs: `base` = the recipe shipped before (Emotify + 4Q, cluster targets, "
            "lambda 0.5); `lambda1`: the same with the alignment regulariser at lambda 1; "
            "`piano` adds the other piano set's FluidR3 renders, labelled with their nearest "
            "circumplex words; `piano-balanced` also samples every collection equally often.", ""]

    out += [f"## Valence/arousal: head vs pole words (`{best}`)", "",
            "| method | " + " | ".join(f"{t} V-AUC / A-AUC / quadrant F1" for t in va_sets) + " |",
            "|---|" + "---|" * (len(test_sets) - 1)]
    for method in VA_METHODS:  # not `m`: that is the product's head
        out.append(f"| {method} | " + " | ".join(
            f"{cell(rows_of(best, t), f'valence_roc_auc/{method}')} / "
            f"{cell(rows_of(best, t), f'arousal_roc_auc/{method}')} / "
            f"{cell(rows_of(best, t), f'va_macro_f1/{method}')}" for t in va_sets) + " |")
    out += ["", "`fused`: valence from tonal and encoder ridge heads averaged, arousal from the "
            "encoder; `tonal` / `encoder` / `concat`: one input block for valence (the tonal "
            "block is pitch and rhythm only, `VALENCE_TONAL`); `tonal-all16`: `tonal` with all "
            "16 tonal features, loudness and spectral shape included; `poles`: "
            "cosine with positive minus negative pole words in the adapter's space.", ""]

    out += [f"## Calibration of word scores (`{best}`)", "",
            "| scores | " + " | ".join(f"{t} quadrant-word F1 (max share)" for t in va_sets) + " | emotify GEMS F1 |",
            "|---|" + "---|" * len(test_sets)]
    for kind in CALIBRATIONS:
        out.append(f"| {kind} | " + " | ".join(
            f"{cell(rows_of(best, t), f'words_macro_f1/{kind}')} "
            f"({cell(rows_of(best, t), f'words_max_share/{kind}', 2)})"
            for t in va_sets)
            + f" | {cell(rows_of(best, 'emotify'), f'gems_f1/{kind}')} |")
    out += ["", "`raw`: cosine; `zscore`: minus the reference's mean cosine for the word, over "
            "its std; `percentile`: the weighted share of reference songs below (the product's "
            "score); `+prompts`: each word embedded as the mean of "
            "\"{w}\", \"music that feels {w}\" and \"{w} music\"; `-descriptions`: bare labels, "
            "without their describing words (GEMS-9's checklist adjectives; the product uses them)."
            , ""]

    if domain:
        tasks = [k for k in domain[0] if k not in ("config", "seed")]
        out += ["## In-domain (trained on every collection's train split, test splits)", "",
                "| config | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
        for c in _in_order(r["config"] for r in domain):
            rows = [r for r in domain if r["config"] == c]
            out.append(f"| {c} | " + " | ".join(cell(rows, k) for k in tasks) + " |")
        out += ["", "Song-level macro-F1 by segment vote (the metric of results/experiments.md). "
                "`shipped (today)` is the adapter shipped before this benchmark existed.", ""]
    Path(md_path).write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    paths = sys.argv[1:] or sorted(Path("results").glob("generalisation*.json"))
    write_report(paths, Path("results") / "generalisation.md")
