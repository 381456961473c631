"""Valence/arousal: the head, the circumplex labels of the piano sets, and the held-out metrics."""

from __future__ import annotations

import numpy as np
import pytest

from emoalign.learn import metrics
from emoalign.answer.valence_arousal import (CIRCUMPLEX, VAHead, circumplex_positives, fit_va_head,
                                             quadrant_of)


def test_quadrants_follow_russell():
    assert quadrant_of(0.5, 0.5) == 1 and quadrant_of(-0.5, 0.5) == 2
    assert quadrant_of(-0.5, -0.5) == 3 and quadrant_of(0.5, -0.5) == 4
    assert quadrant_of(0.0, 0.0) == 1  # zero counts as positive
    assert list(quadrant_of(np.array([0.1, -0.1]), np.array([-0.2, -0.2]))) == [4, 3]


def test_circumplex_positives_by_angle():
    # a point close to the origin still gets the words of its direction
    assert set(circumplex_positives(-0.05, -0.03)) <= {w for w, (v, a) in CIRCUMPLEX.items() if v < 0}
    assert "calm" in circumplex_positives(0.1, -0.2, k=4) or "serene" in circumplex_positives(0.1, -0.2, k=4)
    assert set(circumplex_positives(0.3, 0.3)) <= {w for w, (v, a) in CIRCUMPLEX.items() if v > 0 and a > 0}


def _toy(n=600, seed=0):
    """Encoder features carry arousal; the tonal block carries valence; both noisy."""
    rng = np.random.default_rng(seed)
    valence, arousal = rng.normal(size=n), rng.normal(size=n)
    features = rng.normal(size=(n, 40))
    features[:, 0] += 2 * arousal
    tonal = rng.normal(size=(n, 16))
    tonal[:, 3] += 2 * valence
    return features, tonal, np.stack([valence, arousal], axis=1)


@pytest.mark.parametrize("mode", ["fused", "tonal", "concat"])
def test_head_recovers_valence_and_arousal(mode):
    features, tonal, targets = _toy()
    head = fit_va_head(features, tonal, targets, np.ones(len(targets)), mode=mode)
    test_features, test_tonal, test_targets = _toy(seed=1)
    predicted = head.predict(test_features, test_tonal)
    for j in range(2):
        assert np.corrcoef(predicted[:, j], test_targets[:, j])[0, 1] > 0.6
    # round trip through the stored tensors
    again = VAHead.from_tensors(head.tensors(), mode)
    assert np.allclose(again.predict(test_features, test_tonal), predicted, atol=1e-5)


def test_head_ignores_unknown_targets_and_checks_shapes():
    features, tonal, targets = _toy()
    targets[::2, 0] = np.nan  # half the songs have no valence
    head = fit_va_head(features, tonal, targets, np.ones(len(targets)))
    assert np.isfinite(head.weight).all()
    bad = head.tensors()
    bad["va_weight"] = bad["va_weight"][:, :-1]
    with pytest.raises(ValueError, match="inconsistent"):
        VAHead.from_tensors(bad)
    with pytest.raises(ValueError, match="mode"):
        fit_va_head(features, tonal, targets, np.ones(len(targets)), mode="magic")


def test_quadrant_metrics_flag_a_one_class_model():
    truth = np.repeat([1, 2, 3, 4], 25)
    lazy = metrics.quadrant_metrics(truth, np.full(100, 4))
    assert lazy["max_share"] == 1.0 and lazy["accuracy"] == 0.25
    assert lazy["macro_f1"] == pytest.approx(0.1, abs=1e-9)  # F1 0.4 on Q4, 0 elsewhere
    perfect = metrics.quadrant_metrics(truth, truth)
    assert perfect["macro_f1"] == 1.0 and perfect["shares"] == [0.25] * 4
    base = metrics.quadrant_baselines(truth, np.array([1, 1, 2]))
    assert base["most_frequent"] == pytest.approx(0.1) and 0.15 < base["random"] < 0.35


def test_continuous_metrics_leave_out_zeros_and_nans():
    truth = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, np.nan])
    out = metrics.continuous_metrics(truth, np.array([-2, -1, 5, 1, 2, 0.0]))
    assert out["roc_auc"] == 1.0  # the 0 truth (predicted 5) is left out of the AUC
    assert out["spearman"] < 1.0  # ... but counts for the rank correlation
    reversed_ = metrics.continuous_metrics(truth, -np.nan_to_num(truth))
    assert reversed_["roc_auc"] == 0.0 and reversed_["spearman"] == pytest.approx(-1.0)


def test_valence_reads_pitch_and_rhythm_not_loudness_or_timbre():
    """With the 16 tonal.py features, valence never reads the level and spectral-shape ones
    (they describe the recording; results/generalisation.md, tonal vs tonal-all16), unless
    asked to; arousal still comes from the encoder."""
    from emoalign.audio.tonal import TONAL_FEATURES
    from emoalign.answer.valence_arousal import VALENCE_TONAL

    features, tonal, targets = _toy()
    tonal[:, TONAL_FEATURES.index("rms_db")] += 3 * targets[:, 0]  # a tempting but dropped cue
    d = features.shape[1]
    dropped = [d + i for i, n in enumerate(TONAL_FEATURES) if n not in VALENCE_TONAL]
    assert len(dropped) == 5
    head = fit_va_head(features, tonal, targets, np.ones(len(targets)), mode="tonal")
    # row 1 is the tonal valence expert
    assert np.all(head.weight[1, dropped] == 0) and np.any(head.weight[1, d:] != 0)
    everything = fit_va_head(features, tonal, targets, np.ones(len(targets)), mode="tonal",
                             valence_subset=False)
    assert np.all(everything.weight[1, dropped] != 0)


def _two_domains(n=800, seed=0):
    """Half 'piano' (feature 5 high), whose valence is in the tonal block only; half 'band',
    whose valence is in encoder feature 1 only (and whose tonal block is noise)."""
    rng = np.random.default_rng(seed)
    piano = np.arange(n) < n // 2
    valence, arousal = rng.normal(size=n), rng.normal(size=n)
    features = rng.normal(size=(n, 30))
    features[:, 0] += 2 * arousal
    features[:, 5] += np.where(piano, 3.0, -3.0)
    features[~piano, 1] += 2 * valence[~piano]
    tonal = rng.normal(size=(n, 16))
    tonal[piano, 3] += 2 * valence[piano]
    return features, tonal, np.stack([valence, arousal], axis=1), piano


def test_gate_hears_the_domain_and_mixes_the_experts_by_it():
    features, tonal, targets, piano = _two_domains()
    gated = fit_va_head(features, tonal, targets, np.ones(len(targets)), mode="gated", piano=piano)
    p = [gated.piano_probability(features[i:i + 1]) for i in range(0, len(piano), 40)]
    assert min(p[:len(p) // 2]) > 0.6 and max(p[len(p) // 2:]) < 0.4  # soft: strongly regularised
    f, t, y, test_piano = _two_domains(seed=1)

    def piano_valence(head):  # one song = one row; piano songs read valence through the gate
        v = np.array([head.predict(f[i:i + 1], t[i:i + 1])[0, 0] for i in np.where(test_piano)[0]])
        return np.corrcoef(v, y[test_piano, 0])[0, 1]
    fused = fit_va_head(features, tonal, targets, np.ones(len(targets)), mode="fused")
    assert piano_valence(gated) > piano_valence(fused) + 0.02  # the tonal expert weighs more
    again = VAHead.from_tensors(gated.tensors())
    np.testing.assert_allclose(again.predict(f[:5], t[:5]), gated.predict(f[:5], t[:5]), atol=1e-5)
    # without domain labels the gated head mixes like "fused": the same share for every song
    plain = fit_va_head(features, tonal, targets, np.ones(len(targets)), mode="gated")
    assert plain.piano_probability(f[:1]) == 0.0 and plain.tonal_share[0] == plain.tonal_share[1]
