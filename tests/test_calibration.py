"""Calibration: weighted percentiles on hand-computed cases, the reference file round trip,
re-embedding a corpus under another adapter, and building a corpus from partial caches."""

import dataclasses

import numpy as np
import pytest

from emoalign.answer import calibration
from emoalign.answer.calibration import (Calibrator, ReferenceCorpus, embed_corpus, load_reference,
                                         meaning, reference_path, save_reference, word_calibrator)
from emoalign.learn.corpus import corpus_from_datasets
from emoalign.answer.valence_arousal import VAHead, fit_va_head


def test_percentiles_unweighted_by_hand():
    calibrator = Calibrator(np.array([1.0, 2.0, 3.0, 4.0]))
    got = calibrator.percentile(np.array([[0.0], [1.0], [2.5], [4.0], [9.0]]))[:, 0]
    # below 1: none; at 1: half of its 0.25; between 2 and 3: half; at 4: 0.75 + 0.125
    np.testing.assert_allclose(got, [0.0, 0.125, 0.5, 0.875, 1.0])


def test_percentiles_weighted_by_hand():
    calibrator = Calibrator(np.array([4.0, 1.0, 3.0, 2.0]), np.array([0.4, 0.1, 0.3, 0.2]))
    got = calibrator.percentile(np.array([[2.5], [3.0], [0.5], [5.0]]))[:, 0]
    np.testing.assert_allclose(got, [0.3, 0.3 + 0.3 / 2, 0.0, 1.0])
    # weights need not sum to 1
    np.testing.assert_allclose(Calibrator(np.array([4.0, 1.0, 3.0, 2.0]),
                                          np.array([4, 1, 3, 2])).percentile(np.array([[2.5]])),
                               [[0.3]])


def test_ties_count_half():
    calibrator = Calibrator(np.array([1.0, 1.0, 1.0, 2.0]))
    np.testing.assert_allclose(calibrator.percentile(np.array([[1.0], [2.0]]))[:, 0],
                               [0.375, 0.875])
    constant = Calibrator(np.zeros(5))
    assert constant.percentile(np.array([[0.0]]))[0, 0] == pytest.approx(0.5)
    assert constant.signed(np.array([[0.0]]))[0, 0] == pytest.approx(0.0)


def test_columns_are_independent_and_any_leading_shape_works():
    reference = np.array([[0.0, 10.0], [1.0, 20.0], [2.0, 30.0], [3.0, 40.0]])
    calibrator = Calibrator(reference)
    values = np.array([[[1.5, 35.0]], [[5.0, 0.0]]])  # (2, 1, 2)
    got = calibrator.percentile(values)
    assert got.shape == values.shape
    np.testing.assert_allclose(got[:, 0], [[0.5, 0.75], [1.0, 0.0]])


def test_monotone_and_signed_range():
    rng = np.random.default_rng(0)
    calibrator = Calibrator(rng.normal(size=(200, 3)), rng.uniform(0.1, 1, 200))
    values = np.sort(rng.normal(scale=3, size=(500, 3)), axis=0)
    p = calibrator.percentile(values)
    assert (np.diff(p, axis=0) >= 0).all() and (p >= 0).all() and (p <= 1).all()
    signed = calibrator.signed(values)
    np.testing.assert_allclose(signed, 2 * p - 1)
    assert signed.min() >= -1 and signed.max() <= 1
    assert signed[0].tolist() == [-1, -1, -1] and signed[-1].tolist() == [1, 1, 1]


def test_meaning_is_one_plain_sentence():
    assert meaning(0.8412) == "stronger than 84% of the reference songs"


def small_corpus(rng, n_songs=(3, 5, 2), dim=8, tonal=4) -> ReferenceCorpus:
    """Songs from three datasets with 1-4 segments each, random features, known VA."""
    names = [d for d, n in zip(("a", "b", "c"), n_songs) for _ in range(n)]
    counts = rng.integers(1, 5, size=len(names))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    va = rng.uniform(-1, 1, size=(len(names), 2))
    va[:2] = np.nan
    embeddings = rng.normal(size=(len(names), 384))
    return ReferenceCorpus(
        np.array([f"{d}/{i}" for i, d in enumerate(names)]), np.array(names), offsets,
        rng.normal(size=(offsets[-1], dim)).astype(np.float32),
        rng.normal(size=(offsets[-1], tonal)).astype(np.float32), "musicnn",
        (embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)).astype(np.float32),
        "ab" * 32, va[:, 0], va[:, 1], np.array([0, 0, *rng.integers(1, 5, len(names) - 2)]))


def test_weights_give_each_dataset_the_same_share():
    corpus = small_corpus(np.random.default_rng(1))
    weights = corpus.weights
    assert weights.sum() == pytest.approx(1)
    for name in ("a", "b", "c"):
        assert weights[corpus.datasets == name].sum() == pytest.approx(1 / 3)


def test_save_and_load_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    corpus = small_corpus(rng)
    segments = corpus.offsets[-1]
    targets = rng.normal(size=(segments, 2))
    head = fit_va_head(corpus.features, corpus.tonal, targets, np.ones(segments))
    meta = {"built_from": ["a", "b", "c"], "counts": {"a": 3, "b": 5, "c": 2},
            "head_mode": "fused"}
    path = save_reference(corpus, tmp_path / "ref" / "musicnn.safetensors",
                          extra=head.tensors(), meta=meta)
    loaded, extra, loaded_meta = load_reference(path)
    assert loaded_meta == meta
    assert loaded.encoder == "musicnn" and loaded.adapter_sha256 == "ab" * 32
    assert loaded.ids.tolist() == corpus.ids.tolist()
    assert loaded.datasets.tolist() == corpus.datasets.tolist()
    np.testing.assert_array_equal(loaded.offsets, corpus.offsets)
    assert loaded.features.shape == corpus.features.shape and loaded.features.dtype == np.float32
    np.testing.assert_allclose(loaded.features, corpus.features, rtol=1e-3, atol=1e-3)  # float16
    np.testing.assert_allclose(loaded.tonal, corpus.tonal, rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(loaded.song_embeddings, corpus.song_embeddings)
    np.testing.assert_allclose(loaded.valence, corpus.valence, rtol=1e-6)  # NaN where unknown
    np.testing.assert_array_equal(loaded.quadrant, corpus.quadrant)
    assert [len(f) for f in loaded.song_features()] == np.diff(corpus.offsets).tolist()
    restored = VAHead.from_tensors(extra)
    np.testing.assert_allclose(restored.predict(corpus.features, corpus.tonal),
                               head.predict(corpus.features, corpus.tonal), rtol=1e-5, atol=1e-5)
    # small: features and tonal stored as float16, the rest float32, little else
    payload = 2 * (corpus.features.size + corpus.tonal.size) + 4 * corpus.song_embeddings.size
    assert path.stat().st_size < payload + 4 * sum(v.size for v in head.tensors().values()) + 8192
    with pytest.raises(ValueError, match="own keys"):
        save_reference(corpus, tmp_path / "bad.safetensors", meta={"datasets": ["a"]})


def test_oversized_files_are_refused_unread(tmp_path, monkeypatch):
    corpus = small_corpus(np.random.default_rng(3))
    path = save_reference(corpus, tmp_path / "musicnn.safetensors")
    monkeypatch.setattr(calibration, "MAX_REFERENCE_BYTES", 100)
    with pytest.raises(ValueError, match="larger than"):
        load_reference(path)


def test_word_calibrator_reads_cosines_against_the_reference():
    corpus = small_corpus(np.random.default_rng(4))
    words = np.eye(384, dtype=np.float32)[:3]  # three orthogonal unit "words"
    calibrator = word_calibrator(corpus.song_embeddings, corpus.weights, words)
    cosines = corpus.song_embeddings @ words.T
    best = cosines.argmax(axis=0)
    p = calibrator.percentile(cosines[best, np.arange(3)][None])[0]
    expected = [1 - corpus.weights[best[j]] / 2 for j in range(3)]  # the top song, tie with itself
    np.testing.assert_allclose(p, expected)


def test_corpus_re_embedded_under_another_adapter(pipeline):
    """The stored embeddings are used while the adapter's SHA-256 matches; another adapter of
    the same encoder re-embeds the stored features, once (cached by its SHA-256)."""
    import torch

    from emoalign.answer.adapter import Adapter
    from emoalign.answer.reference import embeddings_under, load_reference_once

    path = reference_path(pipeline.encoder.name)
    if not path.is_file():
        pytest.skip(f"no shipped reference corpus at {path}")
    reference = load_reference_once(str(path), path.stat().st_mtime_ns)
    corpus = reference.corpus
    assert corpus.features.shape[1] == pipeline.encoder.feature_dim
    assert path.stat().st_size < 16 * 2**20  # a few MB
    stored = embeddings_under(reference, pipeline.adapter, corpus.adapter_sha256)
    assert stored is corpus.song_embeddings
    torch.manual_seed(0)
    other = Adapter(pipeline.adapter.config).eval()
    again = embeddings_under(reference, other, "f" * 64)
    assert again.shape == (len(corpus), 384)
    np.testing.assert_allclose(np.linalg.norm(again, axis=1), 1, atol=1e-5)
    assert embeddings_under(reference, other, "f" * 64) is again  # cached
    direct = embed_corpus(other, dataclasses.replace(corpus), "f" * 64)
    np.testing.assert_allclose(direct.song_embeddings, again, atol=1e-6)
    assert np.abs(again - corpus.song_embeddings).max() > 0.1  # another adapter, another space
    # and the shipped adapter reproduces the stored embeddings from the stored features
    if corpus.adapter_sha256 == pipeline.adapter_card["sha256"]:
        same = embed_corpus(pipeline.adapter, dataclasses.replace(corpus), "x")
        np.testing.assert_allclose(same.song_embeddings, corpus.song_embeddings, atol=2e-3)


def test_corpus_from_partial_caches_skips_uncached_tracks(tmp_path, capsys):
    """While an extraction runs, a cache holds only some tracks: they are skipped and
    counted with skip_uncached, and name the missing track otherwise."""
    from conftest import dataset_dir
    dataset_dir("emotify", "the corpus is built from its track list")
    from emoalign.learn.datasets import load_tracks
    from emoalign.learn.features import FeatureSet, feature_path, save_features

    tracks = load_tracks("emotify")
    for encoder, n, dim in (("musicnn", 3, 8), ("tonal", 2, 16)):
        ids = np.array(tracks.ids[:n])
        save_features(FeatureSet(encoder, "emotify", ids, np.arange(0, 2 * n + 1, 2),
                                 np.ones((2 * n, dim), np.float32), np.zeros((2 * n, 0)),
                                 np.tile([0.0, 10.0], n).astype(np.float32)),
                      feature_path(encoder, "emotify", tmp_path))
    corpus, targets = corpus_from_datasets(["emotify"], features_dir=tmp_path, skip_uncached=True)
    assert len(corpus) == 2 and corpus.features.shape == (4, 8) and corpus.tonal.shape == (4, 16)
    assert targets.shape == (4, 2) and np.isfinite(targets).all()  # Emotify: from its GEMS votes
    assert f"skipped {len(tracks.ids) - 2} of {len(tracks.ids)} tracks" in capsys.readouterr().out
    with pytest.raises(KeyError, match="extract"):
        corpus_from_datasets(["emotify"], features_dir=tmp_path)
