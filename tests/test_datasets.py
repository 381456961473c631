"""The datasets' ground truth: piano sets' valence/arousal, circumplex words and quadrants."""

from __future__ import annotations

import numpy as np
import pytest

from emoalign.learn.datasets import (DATASETS, ground_truth, load_tracks, segment_valence_arousal,
                                     valence_arousal)
from conftest import dataset_dir
from emoalign.learn.training import SongSet


def test_piano_sets_carry_valence_arousal():
    dataset_dir("memomusic", "reads its valence/arousal labels")
    data_dir = dataset_dir("vgmidi", "reads its valence/arousal labels")
    vg = load_tracks("vgmidi@fluidr3", data_dir)
    memo = load_tracks("memomusic@audio", data_dir)
    assert len(vg.ids) == 200 and len(memo.ids) == 61
    for tracks in (vg, memo):
        va = valence_arousal(tracks)
        assert np.isfinite(va).all() and (np.abs(va) <= 1).all()
        quadrants = ground_truth(tracks, "quadrants", tracks.spec.labels("quadrants"))
        assert (quadrants.sum(axis=1) == 1).all()
        words = ground_truth(tracks, "circumplex", tracks.spec.labels())
        assert (words.sum(axis=1) == 3).all()
    # the two renders of one piece share labels and splits, not files
    fr, ms = load_tracks("vgmidi@fluidr3", data_dir), load_tracks("vgmidi@musescore", data_dir)
    assert fr.ids == ms.ids and (fr.splits == ms.splits).all() and fr.paths[0] != ms.paths[0]
    assert DATASETS["vgmidi@musescore"].collection == "vgmidi"


def test_4q_quadrants_and_emotify_from_votes():
    dataset_dir("emotify", "reads its listeners' votes")
    data_dir = dataset_dir("4q", "reads its quadrant labels")
    q = load_tracks("4q", data_dir)
    va = valence_arousal(q)
    quadrant = np.array([int(r["Quadrant"][1]) for r in q.rows])
    assert (va[quadrant == 2] == [-0.5, 0.5]).all() and (va[quadrant == 4] == [0.5, -0.5]).all()
    emotify = load_tracks("emotify", data_dir)
    va = valence_arousal(emotify)
    assert np.isfinite(va).all() and (np.abs(va) <= 1).all()
    # listeners who chose sadness for a track make its valence lower than one they did not
    sad = np.array([int(r["votes_sadness"]) / int(r["n_annotators"]) for r in emotify.rows])
    joy = np.array([int(r["votes_joyful_activation"]) / int(r["n_annotators"]) for r in emotify.rows])
    assert va[sad > 0.3, 0].mean() < va[:, 0].mean() < va[joy > 0.3, 0].mean()


def test_vgmidi_segments_follow_their_measures():
    data_dir = dataset_dir("vgmidi", "reads its measure labels")
    vg = load_tracks("vgmidi@fluidr3", data_dir)
    i = next(i for i, r in enumerate(vg.rows) if r["timing_ok"] and r["label_end_s"] > 40)
    segments = segment_valence_arousal(vg, i, np.array([0.0, 10.0, 20.0, 30.0]))
    m = vg.rows[i]["measures"]
    inside = (m["start_s"] >= 10) & (m["end_s"] <= 20)
    assert segments.shape == (4, 2) and np.isfinite(segments).all()
    # the 10-20 s segment's valence is within the range of the measures it covers
    assert m["valence_mean"][inside].min() - 1e-9 <= segments[1, 0] <= m["valence_mean"][inside].max() + 1e-9


def test_balanced_sampling_gives_collections_equal_shares():
    songs = SongSet([], np.zeros((4, 1)), np.zeros((4, 1)), np.zeros((4, 1)),
                    np.array(["4q", "4q", "4q", "vgmidi"]))
    weights = songs.sampling_weights(True)
    assert weights[:3].sum() == pytest.approx(0.5) and weights[3] == pytest.approx(0.5)
    assert songs.sampling_weights(False) is None


def test_dataset_titles_are_plain_words_with_real_counts():
    for name in ("emotify", "4q", "memomusic"):
        dataset_dir(name, "the titles count its clips")
    data_dir = dataset_dir("vgmidi", "the titles count its pieces")
    from emoalign.learn.datasets import dataset_title
    # counts as the data README states them: 400 Emotify clips, 900 4Q clips, 61 MemoMusic
    # recordings, 200 VGMIDI pieces (counted from the data, whether rendered yet or not)
    assert dataset_title("emotify", data_dir) == "Emotify, GEMS-9 emotions (400 clips)"
    assert dataset_title("4q", data_dir) == "4Q, AllMusic moods and Russell quadrants (900 clips)"
    assert dataset_title("memomusic@audio", data_dir) == "MemoMusic piano, recordings (61 pieces)"
    assert dataset_title("vgmidi@fluidr3", data_dir) == (
        "VGMIDI game-music piano, FluidR3 render (200 pieces)")
    assert all("@" not in dataset_title(name, data_dir) for name in DATASETS)
