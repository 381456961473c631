"""The pipeline end to end on real music (the bundled examples, and Emotify for the test of
listeners' votes), the real encoder, the shipped adapter and the real text model."""

import csv
import io
import json

import numpy as np
import pytest
import soundfile as sf

from conftest import CALM_SONG, LIVELY_SONG
from emoalign import AudioError, EmotionPipeline
from emoalign.audio.load import SEGMENT_SECONDS, load_audio
from emoalign.text.labels import load_label_set
from emoalign.answer.valence_arousal import QUADRANT_WORDS, quadrant_of


@pytest.fixture(scope="module")
def song(pipeline, long_song):
    return pipeline.analyze(long_song)


def test_analysis_shapes_and_norms(pipeline, song, long_song):
    duration = sf.info(str(long_song)).duration
    full, rest = divmod(duration, SEGMENT_SECONDS)
    assert song.n_segments == int(full) + (rest >= 3)
    assert song.segment_embeddings.shape == (song.n_segments, 384)
    np.testing.assert_allclose(np.linalg.norm(song.segment_embeddings, axis=1), 1, atol=1e-5)
    assert np.linalg.norm(song.song_embedding) == pytest.approx(1, abs=1e-5)
    assert song.duration_s == pytest.approx(duration, abs=0.05)
    assert list(song.segment_starts) == [10.0 * i for i in range(song.n_segments)]
    assert len(song.tags) == len(pipeline.encoder.tag_names) >= 50 and all(0 <= p <= 1 for p in song.tags.values())
    assert list(song.tags.values()) == sorted(song.tags.values(), reverse=True)


def test_raw_scores_are_cosines_and_votes_add_up(pipeline, song):
    words = list(load_label_set("gems").labels)
    scores = pipeline.score(song, words, top_k=3)
    text = pipeline.text.embed(words)
    np.testing.assert_allclose(scores.segment_raw, song.segment_embeddings @ text.T, atol=1e-5)
    np.testing.assert_allclose(scores.song_raw, song.song_embedding @ text.T, atol=1e-5)
    assert scores.vote_counts.sum() == 3 * song.n_segments
    assert len(scores.top) == 3 and scores.top[0] == scores.ranking()[0]["word"]
    ranking = scores.ranking()
    assert sorted(r["word"] for r in ranking) == sorted(words)
    assert [r["score"] for r in ranking] == sorted((r["score"] for r in ranking), reverse=True)


def test_calibrated_score_is_the_share_of_reference_songs_below(pipeline, song):
    """A word's calibrated cosine is the weighted share of the reference songs whose cosine
    with it is lower (half of exact ties), computed here by hand from the reference; its score
    blends that with its agreement with the song's reading (plane.py), also by hand."""
    from emoalign.answer.plane import agreement, blend

    assert pipeline.calibrated, pipeline.calibration_notices
    words = ["calm", "furious", "bittersweet", "film"]
    scores = pipeline.score(song, words)
    assert scores.calibrated
    reference = pipeline.reference_embeddings.astype(float) @ pipeline.text.embed(words).T.astype(float)
    weights = pipeline.reference.weights
    for j in range(len(words)):
        below = weights[reference[:, j] < scores.song_raw[j]].sum()
        tied = weights[reference[:, j] == scores.song_raw[j]].sum()
        assert scores.cosine_scores[j] == pytest.approx(below + tied / 2, abs=1e-6)
    va = pipeline.valence_arousal(song)
    places, affect = pipeline.word_places(words)
    assert affect[words.index("film")] == 0  # a use, not a feeling: scored by its cosine alone
    assert affect[words.index("calm")] == 1 and np.allclose(places[words.index("calm")], [0.4, -0.8], atol=0.01)
    expected = blend(scores.cosine_scores, agreement(np.array([va.valence, va.arousal]), places), affect)
    np.testing.assert_allclose(scores.song_scores, expected, atol=1e-9)
    assert ((scores.segment_scores >= 0) & (scores.segment_scores <= 1)).all()


def test_scores_do_not_depend_on_word_order(pipeline, song):
    words = ["calm", "furious", "bittersweet", "sad", "happy", "tender"]
    forward = pipeline.score(song, words)
    backward = pipeline.score(song, words[::-1])
    for j, word in enumerate(words):
        k = len(words) - 1 - j
        assert forward.song_scores[j] == backward.song_scores[k], word
        np.testing.assert_array_equal(forward.segment_scores[:, j], backward.segment_scores[:, k])


def test_words_agree_with_the_reading_and_search_with_predict(pipeline):
    """On the bundled examples: the best plain mood word sits in the quadrant of the reading
    (when the reading names one), and searching by a word ranks songs by the score predict
    shows."""
    from conftest import REPO
    songs = [pipeline.analyze(p) for p in sorted((REPO / "assets" / "examples").glob("*.ogg"))]
    predictions = [pipeline.predict(s) for s in songs]
    agree = 0
    for p in predictions:
        best = p.scores.ranking()[0]
        if p.va.quadrant and best["place"] is not None:
            agree += quadrant_of(*best["place"]) == p.va.quadrant
    assert agree >= 4
    ranked = pipeline.search("sad", songs)
    sad = [pipeline.predict(s, ["sad"]).scores.song_scores[0] for s in songs]
    assert [s.name for s, _ in ranked] == [songs[i].name for i in np.argsort(sad)[::-1]]
    assert [round(v, 4) for _, v in ranked] == [round(v, 4) for v in sorted(sad, reverse=True)]


def test_predict_follows_the_output_contract(pipeline, song, long_song):
    prediction = pipeline.predict(song, "calm, furious, tender, joyful", top_k=2)
    data = json.loads(json.dumps(prediction.to_dict(segments=True)))  # plain JSON types only
    assert set(data) == {"file", "duration_s", "valence", "arousal", "quadrant", "calibrated",
                         "ranking", "notices", "segments", "music"}
    assert data["music"]["is_music"] is True and data["music"]["probability"] > 0.5
    assert data["file"] == song.name
    assert data["duration_s"] == pytest.approx(song.duration_s, abs=.01)
    assert data["calibrated"] is True and data["notices"] == []
    assert -1 <= data["valence"] <= 1 and -1 <= data["arousal"] <= 1
    number = data["quadrant"]["number"]
    if np.hypot(data["valence"], data["arousal"]) >= pipeline.reference.neutral_radius:
        assert number == quadrant_of(data["valence"], data["arousal"])
        assert data["quadrant"]["words"] == QUADRANT_WORDS[number]
    else:
        assert number == 0 and data["quadrant"]["words"] == "neutral / mixed"
    ranking = data["ranking"]
    assert [set(r) for r in ranking] == [{"word", "score", "raw", "meaning", "votes",
                                          "cosine_score", "place"}] * 4
    assert [r["score"] for r in ranking] == sorted((r["score"] for r in ranking), reverse=True)
    for r in ranking:
        assert 0 <= r["score"] <= 1 and -1 <= r["raw"] <= 1 and 0 <= r["cosine_score"] <= 1
        assert r["meaning"].startswith(f"sound stronger than {round(100 * r['cosine_score'])}% "
                                       f"of the reference songs")
        assert len(r["place"]) == 2 and all(-1 <= x <= 1 for x in r["place"])
    assert sum(r["votes"] for r in ranking) == 2 * song.n_segments
    assert len(data["segments"]) == song.n_segments
    for start, segment in zip(song.segment_starts, data["segments"]):
        assert segment["start_s"] == start and len(segment["top"]) == 2
        assert -1 <= segment["valence"] <= 1 and -1 <= segment["arousal"] <= 1
        assert set(segment["scores"]) == {r["word"] for r in ranking}
        assert all(0 <= v <= 1 for v in segment["scores"].values())
        assert segment["top"][0] == max(segment["scores"], key=segment["scores"].get)
    assert "segments" not in prediction.to_dict()
    # a path gives the same answer as the analysis
    assert pipeline.predict(long_song, "calm, furious, tender, joyful",
                            top_k=2).to_dict()["ranking"] == ranking


def test_without_a_reference_scores_stay_raw_and_say_so(pipeline, song):
    raw = EmotionPipeline(pipeline.encoder, device="cpu", reference=False)
    assert not raw.calibrated and "no reference corpus" in raw.calibration_notices[0]
    prediction = raw.predict(song, "calm, furious")
    data = prediction.to_dict()
    assert data["calibrated"] is False and "raw cosines" in data["notices"][-1]
    assert [r["score"] for r in data["ranking"]] == [r["raw"] for r in data["ranking"]]
    assert -1 <= data["valence"] <= 1 and -1 <= data["arousal"] <= 1
    assert prediction.va.method == "pole words" and "uncalibrated" in prediction.va.describe()


def test_a_reference_with_a_head_gives_head_valence_arousal(pipeline, tmp_path):
    """A reference with a valence/arousal head (fitted here on stand-in targets) and built
    under another adapter: it is re-embedded, the analysis gains tonal features, and valence
    and arousal come from the head, calibrated to [-1, 1]."""
    from emoalign.answer.calibration import load_reference, reference_path, save_reference
    from emoalign.answer.valence_arousal import fit_va_head

    corpus, _, _ = load_reference(reference_path("musicnn"))
    z = (corpus.tonal - corpus.tonal.mean(0)) / (corpus.tonal.std(0) + 1e-6)
    targets = np.stack([z[:, 2], z[:, 13]], axis=1)  # mode and loudness: any signal will do
    head = fit_va_head(corpus.features, corpus.tonal, targets, np.ones(len(targets)))
    corpus.adapter_sha256, corpus.song_embeddings = "0" * 64, None
    path = save_reference(corpus, tmp_path / "musicnn.safetensors", extra=head.tensors(),
                          meta={"head_mode": "fused"})
    pipe = EmotionPipeline(pipeline.encoder, device="cpu", reference=path)
    assert pipe.calibrated and pipe.reference.head is not None
    shipped = pipeline.reference_embeddings
    if pipeline.reference.corpus.adapter_sha256 == pipeline.adapter_card["sha256"]:
        # the same adapter on the stored (float16) features gives the stored embeddings
        np.testing.assert_allclose(pipe.reference_embeddings, shipped, atol=2e-3)
    song = pipe.analyze(CALM_SONG)
    assert song.tonal.shape == (song.n_segments, 16) and np.isfinite(song.tonal).all()
    va = pipe.valence_arousal(song)
    assert va.method == "head" and va.calibrated
    assert -1 <= va.valence <= 1 and -1 <= va.arousal <= 1
    assert va.segments.shape == (song.n_segments, 2) and (np.abs(va.segments) <= 1).all()
    raw = head.predict(song.features, song.tonal)
    np.testing.assert_allclose([va.valence, va.arousal], pipe.reference.head_calibrator.signed(
        raw[~song.silent].mean(axis=0)[None])[0])
    np.testing.assert_allclose(va.segments, pipe.reference.head_calibrator.signed(raw))


def test_rescoring_new_words_never_touches_audio(pipeline, song, monkeypatch):
    def no_audio(*args, **kwargs):
        raise AssertionError("re-scoring must not encode audio again")
    monkeypatch.setattr(pipeline.encoder, "encode", no_audio)
    monkeypatch.setattr("emoalign.answer.pipeline.load_audio", no_audio)
    scores = pipeline.score(song, "wistful, furious, serene, bittersweet")
    assert scores.segment_scores.shape == (song.n_segments, 4)


def test_exports_parse_back(pipeline, song):
    prediction = pipeline.predict(song, "happy, sad, calm")
    data = json.loads(prediction.to_json())
    assert data == json.loads(json.dumps(prediction.to_dict(segments=True)))
    assert len(data["segments"]) == song.n_segments
    rows = list(csv.DictReader(io.StringIO(prediction.to_csv())))
    assert list(rows[0]) == ["level", "start_s", "word", "rank", "score", "raw", "votes",
                             "valence", "arousal"]
    assert len(rows) == 3 * (1 + song.n_segments)
    assert [r["word"] for r in rows[:3]] == [r["word"] for r in data["ranking"]]
    assert [float(r["score"]) for r in rows[:3]] == [r["score"] for r in data["ranking"]]
    assert {r["start_s"] for r in rows[3:]} == {f"{t:.1f}" for t in song.segment_starts}


def test_gradio_style_int16_and_odd_rate_input_match_the_file(pipeline, long_song, song):
    audio = load_audio(long_song, 22050)  # a rate the encoder does not use
    pcm = (audio * 32767).astype(np.int16)
    from_array = pipeline.analyze((22050, pcm), name="the song at 22 kHz")
    assert from_array.n_segments == song.n_segments
    cosines = np.sum(from_array.segment_embeddings * song.segment_embeddings, axis=1)
    assert cosines.min() > 0.9  # resampled twice and quantised, yet the same music


def test_silent_and_short_audio(pipeline, tmp_path):
    with pytest.raises(AudioError, match="silent"):
        pipeline.analyze(np.zeros(16000 * 20, np.float32), sr=16000)
    with pytest.raises(AudioError, match="at least 3 s"):
        pipeline.analyze(np.random.default_rng(0).normal(0, .1, 16000 * 2), sr=16000)
    music = load_audio(LIVELY_SONG, 16000)[: 16000 * 20]
    half_silent = np.concatenate([music, np.zeros(16000 * 20, np.float32)])
    song = pipeline.analyze(half_silent, sr=16000)
    assert song.silent.tolist() == [False, False, True, True]
    assert any("silent" in n for n in song.notices)
    assert pipeline.score(song, "happy, sad", top_k=1).vote_counts.sum() == 2


def test_long_songs_are_refused_or_trimmed(long_song):
    pipe = EmotionPipeline(device="cpu", max_seconds=30)
    with pytest.raises(AudioError, match="limit is"):
        pipe.analyze(long_song)
    song = pipe.analyze(long_song, trim=True)
    assert song.n_segments == 3 and "first" in song.notices[0]


def test_word_list_errors(pipeline, song):
    with pytest.raises(ValueError, match="at least one"):
        pipeline.score(song, " ,, ")
    with pytest.raises(ValueError, match="too many"):
        pipeline.score(song, ", ".join(f"w{i}" for i in range(500)))


def test_explain_finds_neighbours_and_warns_far_from_training(pipeline):
    serene = pipeline.explain("serene")
    assert len(serene.nearest) == 5
    label, label_set, similarity, cluster = serene.nearest[0]
    assert label in cluster and -1 <= similarity <= 1
    assert [n[2] for n in serene.nearest] == sorted((n[2] for n in serene.nearest), reverse=True)
    assert serene.familiar and serene.warning is None
    gibberish = pipeline.explain("xqzv blorptang")
    assert not gibberish.familiar and "far from" in gibberish.warning
    assert gibberish.similarity_to_known < serene.similarity_to_known


def test_scores_follow_listeners_votes_on_unseen_test_clips(pipeline, clip, emotify_tracks):
    """Real signal, not just shapes: among Emotify's test clips (never trained on), the four
    that listeners most often called calm score higher for "calmness" than the four they most
    often called powerful, and the other way round for "power"."""
    test = {t: r for t, r in emotify_tracks.items() if r["split"] == "test"}
    def share(row, label):
        return float(row[f"votes_{label}"]) / float(row["n_annotators"])
    calm = sorted(test, key=lambda t: -share(test[t], "calmness"))[:4]
    powerful = sorted(test, key=lambda t: -share(test[t], "power"))[:4]
    assert not set(calm) & set(powerful)
    songs = {t: pipeline.analyze(clip(t)) for t in calm + powerful}
    def mean_score(tracks, word):
        return np.mean([pipeline.score(songs[t], ["calmness", "power"]).song_raw[
            ["calmness", "power"].index(word)] for t in tracks])
    assert mean_score(calm, "calmness") > mean_score(powerful, "calmness")
    assert mean_score(powerful, "power") > mean_score(calm, "power")
    library = list(songs.values())
    top_half = {s.name for s, _ in pipeline.search("calm, peaceful", library)[:4]}
    assert len(top_half & {f"{t}.ogg" for t in calm}) >= 3
    similar = pipeline.similar(songs[calm[0]], library)
    assert len(similar) == 7 and songs[calm[0]] not in [s for s, _ in similar]


def test_clusters_with_custom_words(pipeline):
    clusters = pipeline.clusters(["gems", "quadrants"], words="serene, furious", bandwidth=0.9)
    assert "serene" in clusters.labels and len(clusters.labels) == 15
    with pytest.raises(ValueError, match="at least one"):
        pipeline.clusters([], words="")


def test_analysis_only_runs_torch_on_one_thread_with_the_same_answer(pipeline):
    """The CLI's threading (pipeline.analysis_only, in a fresh process so this session keeps
    its threads): torch gets one thread beside ONNX Runtime, and the answer is the same. Raw
    cosines agree to float noise; calibrated scores and valence are steps over the reference
    songs (one 4Q song weighs 0.0003, one piano piece 0.0013), so noise may move them a step."""
    import subprocess
    import sys
    from conftest import REPO
    song = LIVELY_SONG
    code = ("import json, torch\n"
            "from emoalign.answer.pipeline import EmotionPipeline, analysis_only\n"
            "pipe = analysis_only(EmotionPipeline(device='cpu'))\n"
            f"d = pipe.predict({str(song)!r}).to_dict()\n"
            "print(json.dumps([torch.get_num_threads(), pipe.encoder.backend, d['valence'], "
            "[[r['word'], r['score'], r['raw']] for r in d['ranking']]]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    threads, backend, valence, ranking = json.loads(result.stdout.splitlines()[-1])
    assert pipeline.encoder.backend == backend == "onnx" and threads == 1
    here = {r["word"]: r for r in pipeline.predict(song).to_dict()["ranking"]}
    assert sorted(here) == sorted(w for w, _, _ in ranking)
    assert all(abs(here[w]["raw"] - raw) < 2e-4 for w, _, raw in ranking)  # 4-decimal rounding
    assert all(abs(here[w]["score"] - score) < 0.005 for w, score, _ in ranking)
    assert abs(pipeline.predict(song).va.valence - valence) < 0.01
