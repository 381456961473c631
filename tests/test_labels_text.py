"""Built-in vocabularies, word parsing, and the real offline all-MiniLM-L6-v2."""

import os
import subprocess
import sys

import numpy as np
import pytest

from emoalign.text.labels import MAX_WORDS, available_label_sets, load_label_set, parse_words


def test_builtin_label_sets_have_their_published_sizes():
    sizes = {name: len(load_label_set(name).labels) for name in available_label_sets()}
    assert sizes["mtg"] == 56 and sizes["cal500"] == 18 and sizes["gems"] == 9
    assert sizes["quadrants"] == 4 and sizes["allmusic"] >= 100
    assert "laid-back, mellow" in load_label_set("cal500").labels  # the reference code lost it
    assert load_label_set("quadrants").labels[1] == "angry, tense"  # as the quadrant badge says
    everything = load_label_set("all").labels
    assert len(everything) == len(set(everything))
    assert {"happy", "sad", "calmness", "laid-back, mellow"} <= set(everything)
    with pytest.raises(ValueError, match="Unknown label set"):
        load_label_set("nope")


def test_allmusic_set_matches_the_4q_metadata():
    import csv
    from collections import Counter
    from conftest import dataset_dir
    data_dir = dataset_dir("4q", "the AllMusic label set is built from its mood tags")
    with open(data_dir / "4q" / "metadata.csv") as f:
        counts = Counter(t.strip().lower() for r in csv.DictReader(f)
                         for t in set(r["MoodsStrSplit"].split(";")) if t.strip())
    assert set(load_label_set("allmusic").labels) == {t for t, c in counts.items() if c >= 10}


def test_parse_words_splits_dedupes_and_keeps_quoted_phrases():
    assert parse_words('wistful, furious\n"calming, soothing"; serene,, wistful ') == [
        "wistful", "furious", "calming, soothing", "serene"]
    assert parse_words(["  happy  ", "happy", "ｈａｐｐｙ"]) == ["happy"]  # NFKC folds full-width
    assert parse_words("мечтательный, 悲しい, 🎵 joyful") == ["мечтательный", "悲しい", "🎵 joyful"]
    for empty in ["", " , ; \n", "🎵🎵"]:
        with pytest.raises(ValueError, match="at least one"):
            parse_words(empty)
    with pytest.raises(ValueError, match="too many"):
        parse_words(", ".join(f"word{i}" for i in range(MAX_WORDS + 300)))
    with pytest.raises(ValueError, match="characters long"):
        parse_words("a" * 500)


def test_text_encoder_is_unit_norm_cached_and_meaningful(text_encoder):
    vectors = text_encoder.embed(["calm", "peaceful", "furious", "calm"])
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[3])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # calm is nearer peaceful than furious
    assert text_encoder.embed([]).shape == (0, 384)


def test_gems_labels_mean_what_the_gems_checklist_says(text_encoder):
    from emoalign.text.labels import label_descriptions
    meanings = label_descriptions()
    assert set(load_label_set("gems").labels) <= set(meanings)  # every GEMS word is described
    assert meanings["amazement"] == ("filled with wonder", "dazzled", "moved")
    assert "calm" not in meanings  # plain words stay plain
    described, bare = text_encoder.embed(["amazement", "Amazement", "calm"]), text_encoder.embed(
        ["amazement", "calm"], described=False)
    parts = text_encoder.embed(["amazement", *meanings["amazement"]], described=False)
    expected = parts.mean(axis=0) / np.linalg.norm(parts.mean(axis=0))
    np.testing.assert_allclose(described[0], expected, atol=1e-6)  # the mean of label + words
    np.testing.assert_allclose(described[1], described[0], atol=1e-6)  # as a user types it
    np.testing.assert_array_equal(described[2], bare[1])
    assert described[0] @ bare[0] < 0.95  # the words move it
    wonder = text_encoder.embed(["wonder"], described=False)[0]
    assert described[0] @ wonder > bare[0] @ wonder  # towards what GEMS means by it


def test_text_model_loads_with_the_hub_switched_off():
    code = ("from emoalign.text.encoder import TextEncoder; v = TextEncoder().embed(['serene']); "
            "print(v.shape)")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(1, 384)" in result.stdout


def test_plain_torch_minilm_matches_sentence_transformers(text_encoder):
    """The app and CLI run the packaged model in plain torch (minilm.py) to skip importing
    sentence-transformers; it must give that library's embeddings, padding and long text too."""
    from sentence_transformers import SentenceTransformer

    from emoalign.text.minilm import MiniLM
    from emoalign.text.encoder import default_text_model

    assert isinstance(text_encoder.model, MiniLM)
    texts = list(load_label_set("gems").labels) + [
        "wistful, rainy night", "a very long phrase " * 120, "Ünïcödé 悲しい", "", "x"]
    ours = text_encoder.model.encode(texts)
    reference = SentenceTransformer(default_text_model(), device="cpu").encode(
        texts, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.shape == reference.shape == (len(texts), 384)
    assert np.abs(ours - reference).max() < 1e-5
