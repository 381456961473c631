"""The leave-one-collection-out benchmark's pieces that run without feature caches: which sets
a fold trains on, the calibration kinds, and the report (from rows shaped like a real run's)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from train import generalisation as g
from train.generalisation_report import best_config, write_report


def test_a_held_out_collection_is_in_no_training_set():
    for held_out in g.COLLECTIONS:
        for piano in (False, True):
            sets = g.training_sets(held_out, piano)
            assert all(not s.startswith(held_out) for s in sets)
            assert all(s.endswith(f"@{g.TRAIN_RENDER}") for s in sets if "@" in s)
    assert g.training_sets(None, True) == ["emotify", "4q", "vgmidi@fluidr3", "memomusic@fluidr3"]
    # the test renders use a soundfont never trained on
    assert all(g.TRAIN_RENDER not in t for sets in g.TEST_SETS.values() for t in sets)


def test_calibration_kinds():
    reference = np.array([[0.0, 10.0], [1.0, 20.0], [2.0, 30.0], [3.0, 40.0]])
    weights = np.full(4, 0.25)
    values = np.array([[1.5, 15.0]])
    assert np.array_equal(g.calibrate("raw", reference, weights, values), values)
    z = g.calibrate("zscore", reference, weights, values)
    assert z[0, 0] == pytest.approx(0.0) and z[0, 1] == pytest.approx(-1 / np.sqrt(1.25))
    p = g.calibrate("percentile", reference, weights, values)
    assert p[0].tolist() == [0.5, 0.25]  # the same share below, whatever each word's scale


def _row(config, test_set, seed, f1, share=0.3):
    row = {"config": config, "held_out": test_set.split("@")[0], "test_set": test_set,
           "seed": seed, "n_songs": 10}
    if test_set == "emotify":
        row.update({f"gems_f1/{k}": f1 for k in g.CALIBRATIONS}, **{"gems_f1/random": 0.3})
        return row
    for method in ("fused", "tonal", "encoder", "concat", "poles"):
        row.update({f"va_macro_f1/{method}": f1, f"va_accuracy/{method}": f1,
                    f"va_max_share/{method}": share, f"va_shares/{method}": [share] * 4,
                    f"valence_roc_auc/{method}": 0.7, f"arousal_roc_auc/{method}": 0.9,
                    f"valence_spearman/{method}": 0.4, f"arousal_spearman/{method}": 0.6})
    for kind in g.CALIBRATIONS:
        row.update({f"words_macro_f1/{kind}": f1, f"words_max_share/{kind}": share})
    row.update({"quadrant_f1/most_frequent": 0.1, "quadrant_f1/random": 0.25})
    return row


def test_report_merges_seed_files_and_states_the_targets(tmp_path):
    sets = ["emotify", "4q", "vgmidi@musescore", "memomusic@musescore", "memomusic@audio"]
    for seed in (42, 43):
        held = [_row(c, t, seed, f1) for c, f1 in (("base", 0.4), ("piano", 0.5)) for t in sets]
        domain = [{"config": "shipped (today)", "seed": 0, "emotify/test/gems": 0.59},
                  {"config": "base", "seed": seed, "emotify/test/gems": 0.6}]
        (tmp_path / f"generalisation-seed{seed}.json").write_text(json.dumps(
            {"held_out": held, "in_domain": domain, "seconds": 60, "seeds": [seed]}))
    held = [r for p in sorted(tmp_path.glob("*.json")) for r in json.loads(p.read_text())["held_out"]]
    assert best_config(held) == "piano"  # better held-out word scores
    out = tmp_path / "generalisation.md"
    write_report(sorted(tmp_path.glob("*.json")), out)
    text = out.read_text()
    assert "seeds 42, 43" in text
    assert "adapter recipe `base`" in text  # what ships, even when another recipe scores higher
    assert "(target >= 0.50)" in text and "memomusic@audio" in text
    assert text.count("| shipped (today) |") == 1  # one row, not one per seed file
