"""The answer card's honesty: non-music is flagged, a reading near the centre names no
quadrant, words sit on the valence/arousal plane, search ranks by the card's score, and each
song is listed once. Real encoder, shipped adapter and reference, real text model; audio is
generated here or bundled (assets/examples), so no dataset is needed except where said."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emoalign.answer.confidence import NOT_MUSIC_NOTICE, fit_neutral_radius
from emoalign.answer.results import ValenceArousal
from emoalign.answer.valence_arousal import quadrant_of
from train.nonmusic import RATE, clip, espeak_available

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "assets" / "examples").glob("*.ogg"))


@pytest.fixture(scope="module")
def pipe():
    from emoalign import EmotionPipeline
    return EmotionPipeline()


@pytest.mark.parametrize("kind", ["sine", "white noise", "clicks", "beeps", "hum",
                                  pytest.param("speech", marks=pytest.mark.skipif(
                                      not espeak_available(), reason="needs espeak-ng (apt)"))])
def test_audio_that_is_not_music_gets_a_notice_and_no_quadrant(pipe, kind):
    prediction = pipe.predict((RATE, clip(kind, 4242)))  # a seed the check was not fitted on
    data = prediction.to_dict()
    assert data["music"]["is_music"] is False and data["music"]["probability"] < 0.5
    assert data["notices"][0] == NOT_MUSIC_NOTICE
    assert data["quadrant"] == {"number": 0, "words": "not music"}
    from emoalign.web.hero import hero_html
    html = hero_html(prediction)
    assert "Not music" in html and "Feels like" not in html


def test_real_music_gets_no_such_notice(pipe):
    for example in EXAMPLES:
        prediction = pipe.predict(example)
        assert prediction.is_music, example.name
        assert NOT_MUSIC_NOTICE not in prediction.notices


def test_a_reading_near_the_centre_names_no_quadrant(pipe):
    radius = pipe.reference.neutral_radius
    assert 0 < radius < 0.5
    near = ValenceArousal(-0.03, -0.7 * radius, np.zeros((1, 2)), True, "head", radius)
    assert near.quadrant == 0 and near.quadrant_words == "neutral / mixed"
    assert "quadrant" not in near.describe()
    far = ValenceArousal(-0.5, -0.4, np.zeros((1, 2)), True, "head", radius)
    assert far.quadrant == 3 and far.quadrant_words == "sad, melancholic"


def test_neutral_radius_is_where_readings_are_right_at_chance():
    rng = np.random.default_rng(0)
    truth = rng.integers(1, 5, 4000)
    centre = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]])[truth - 1]
    distance = rng.uniform(0, 1.4, 4000)
    noisy = distance < 0.35  # readings this near the centre point anywhere
    angle = np.where(noisy, rng.uniform(0, 2 * np.pi, 4000),
                     np.arctan2(centre[:, 1], centre[:, 0]) + rng.normal(0, 0.2, 4000))
    readings = np.stack([distance * np.cos(angle), distance * np.sin(angle)], axis=1)
    assert fit_neutral_radius(readings, truth, np.ones(4000)) == pytest.approx(0.35)


def test_words_have_places_on_the_plane(pipe):
    words = ["calm", "furious", "sadness", "joyful activation", "film", "melancholy", "serene"]
    places, affect = pipe.word_places(words)
    assert np.allclose(places[0], [0.4, -0.8], atol=0.01)  # an anchor sits at its own place
    quadrants = quadrant_of(places[:, 0], places[:, 1])
    assert quadrants[1] == 2 and quadrants[2] == 3 and quadrants[3] == 1 and quadrants[5] == 3
    assert affect[4] == 0  # a use, not a feeling
    assert (affect[[0, 1, 2, 3, 6]] > 0.5).all()
    np.testing.assert_allclose(pipe.word_positions("calm, furious"), places[:2])


def test_default_words_are_plain_and_badge_matches_the_quadrant_words(pipe):
    from emoalign.text.labels import DEFAULT_LABELS, load_label_set
    from emoalign.answer.valence_arousal import QUADRANT_WORDS

    moods = load_label_set(DEFAULT_LABELS).labels
    assert 20 <= len(moods) <= 30
    places, _ = pipe.word_places(list(moods))
    assert set(quadrant_of(places[:, 0], places[:, 1])) == {1, 2, 3, 4}  # spread over the plane
    assert tuple(QUADRANT_WORDS[q] for q in (1, 2, 3, 4)) == load_label_set("quadrants").labels
    prediction = pipe.predict(EXAMPLES[0])
    assert {r["word"] for r in prediction.to_dict()["ranking"]} == set(moods)


def test_gems_labels_show_their_plain_meaning():
    from emoalign.text.labels import plain_name
    assert plain_name("amazement") == "amazement (filled with wonder, dazzled)"
    assert plain_name("happy") == "happy"


def test_similar_and_catalogue_search_list_each_song_once():
    from emoalign.library.catalogue import Catalogue
    rng = np.random.default_rng(1)
    e = rng.normal(size=(6, 384))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    e[4] = e[1]  # the same song twice (an example that is also a reference song)
    e[5] = e[0]  # a copy of the query (say, in your library): listed, first
    cat = Catalogue([f"s{i}" for i in range(6)], ["reference"] * 6, [""] * 6, ["unknown"] * 6,
                    e, np.zeros((6, 2)), np.zeros(6), np.zeros(6))
    rows = [i for i, _ in cat.similar(0)]
    assert rows[0] == 5 and 0 not in rows and sorted(rows[1:]) in ([1, 2, 3], [2, 3, 4])
    assert len(cat.search(e[1])) == 4  # six rows, four songs


def test_pipeline_similar_lists_each_song_once(pipe):
    """The pipeline and the catalogue know a song by one key (results.song_key): a copy of
    the query is listed, a second copy of another song is not."""
    import dataclasses
    song, other = pipe.analyze(EXAMPLES[0]), pipe.analyze(EXAMPLES[1])
    copy, other_again = (dataclasses.replace(song, name="copy"),
                         dataclasses.replace(other, name="again"))
    names = [s.name for s, _ in pipe.similar(song, [song, copy, other, other_again])]
    assert names == ["copy", other.name]


def test_rescoring_a_new_word_list_costs_no_audio(pipe, monkeypatch):
    song = pipe.analyze(EXAMPLES[0])
    monkeypatch.setattr(pipe.encoder, "encode", None)  # any audio work would fail now
    first = pipe.predict(song, "wistful, eerie")
    again = pipe.predict(song, "furious, serene, wistful")
    assert first.scores.song_scores[0] == pytest.approx(again.scores.song_scores[2])


@pytest.mark.slow
def test_answer_benchmark_runs():
    """bench/bench_answer.py at a tiny size."""
    from conftest import dataset_dir
    for name in ("emotify", "4q", "vgmidi", "memomusic"):
        dataset_dir(name, "the answer benchmark scores held-out readings against its labels")
    from bench import bench_answer
    out = bench_answer.main(["--smoke"])
    assert out["heads"] and out["chosen"] in {h["head"] for h in out["heads"]}
    assert 0 <= out["music_check"]["real songs flagged"]["all"] <= 0.05
    assert out["words"] and out["rescoring"]["new word list, median ms"] > 0
