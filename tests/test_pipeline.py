"""The pipeline end to end on real clips, the real encoder, the shipped adapter and the real
text model."""

import json

import numpy as np
import pytest
import soundfile as sf

from emoalign import AudioError, EmotionPipeline
from emoalign.audio import SEGMENT_SECONDS, load_audio
from emoalign.labels import load_label_set


@pytest.fixture(scope="module")
def song(pipeline, clip):
    return pipeline.analyze(clip("001"))


def test_analysis_shapes_and_norms(pipeline, song, emotify_tracks):
    duration = float(emotify_tracks["001"]["duration_s"])
    full, rest = divmod(duration, SEGMENT_SECONDS)
    assert song.n_segments == int(full) + (rest >= 3)
    assert song.segment_embeddings.shape == (song.n_segments, 384)
    np.testing.assert_allclose(np.linalg.norm(song.segment_embeddings, axis=1), 1, atol=1e-5)
    assert np.linalg.norm(song.song_embedding) == pytest.approx(1, abs=1e-5)
    assert song.duration_s == pytest.approx(duration, abs=0.05)
    assert list(song.segment_starts) == [10.0 * i for i in range(song.n_segments)]
    assert len(song.tags) == len(pipeline.encoder.tag_names) >= 50 and all(0 <= p <= 1 for p in song.tags.values())
    assert list(song.tags.values()) == sorted(song.tags.values(), reverse=True)


def test_scores_are_cosines_and_votes_add_up(pipeline, song):
    words = list(load_label_set("gems").labels)
    scores = pipeline.score(song, words, top_k=3)
    text = pipeline.text.embed(words)
    np.testing.assert_allclose(scores.segment_scores, song.segment_embeddings @ text.T, atol=1e-5)
    np.testing.assert_allclose(scores.song_scores, song.song_embedding @ text.T, atol=1e-5)
    assert scores.vote_counts.sum() == 3 * song.n_segments
    assert len(scores.top_by_mean) == 3 and len(scores.top_by_vote) == 3
    assert scores.top_by_mean[0] == words[int(np.argmax(scores.song_scores))]
    table = scores.table()
    assert [r["rank"] for r in table] == list(range(1, 10))
    assert table[0]["score"] >= table[-1]["score"]


def test_rescoring_new_words_never_touches_audio(pipeline, song, monkeypatch):
    def no_audio(*args, **kwargs):
        raise AssertionError("re-scoring must not encode audio again")
    monkeypatch.setattr(pipeline.encoder, "encode", no_audio)
    monkeypatch.setattr("emoalign.pipeline.load_audio", no_audio)
    scores = pipeline.score(song, "wistful, furious, serene, bittersweet")
    assert scores.segment_scores.shape == (song.n_segments, 4)


def test_exports_parse_back(pipeline, song):
    scores = pipeline.score(song, "happy, sad, calm")
    data = json.loads(scores.to_json())
    assert data["top_by_mean"] == scores.top_by_mean
    assert len(data["segments"]) == song.n_segments
    lines = scores.to_csv().strip().splitlines()
    assert lines[0] == "level,start_s,happy,sad,calm" and len(lines) == 2 + song.n_segments


def test_gradio_style_int16_and_odd_rate_input_match_the_file(pipeline, clip, song):
    audio = load_audio(clip("001"), 11025)
    pcm = (audio * 32767).astype(np.int16)
    from_array = pipeline.analyze((11025, pcm), name="001 at 11 kHz")
    assert from_array.n_segments == song.n_segments
    cosines = np.sum(from_array.segment_embeddings * song.segment_embeddings, axis=1)
    assert cosines.min() > 0.9  # resampled twice and quantised, yet the same music


def test_silent_and_short_audio(pipeline, clip, tmp_path):
    with pytest.raises(AudioError, match="silent"):
        pipeline.analyze(np.zeros(16000 * 20, np.float32), sr=16000)
    with pytest.raises(AudioError, match="at least 3 s"):
        pipeline.analyze(np.random.default_rng(0).normal(0, .1, 16000 * 2), sr=16000)
    music = load_audio(clip("150"), 16000)[: 16000 * 20]
    half_silent = np.concatenate([music, np.zeros(16000 * 20, np.float32)])
    song = pipeline.analyze(half_silent, sr=16000)
    assert song.silent.tolist() == [False, False, True, True]
    assert any("silent" in n for n in song.notices)
    assert pipeline.score(song, "happy, sad", top_k=1).vote_counts.sum() == 2


def test_long_songs_are_refused_or_trimmed(clip):
    pipe = EmotionPipeline(device="cpu", max_seconds=30)
    with pytest.raises(AudioError, match="limit is"):
        pipe.analyze(clip("001"))
    song = pipe.analyze(clip("001"), trim=True)
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
        return np.mean([pipeline.score(songs[t], ["calmness", "power"]).song_scores[
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
