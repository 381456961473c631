"""The precomputed map, the catalogue of browsable songs, the examples' stored analyses and
the app's answer card: real shipped assets (reference corpus, stored map), no server."""

from __future__ import annotations

import re

import numpy as np
import pytest

from emoalign.library.atlas import load_label_layout, load_song_map, place
from emoalign.answer.calibration import reference_path
from emoalign.library.catalogue import reference_catalogue
from emoalign.answer.reference import load_reference_once


@pytest.fixture(scope="module")
def reference():
    path = reference_path("musicnn")
    return load_reference_once(str(path), path.stat().st_mtime_ns)


def test_the_stored_map_covers_the_reference_corpus(reference):
    song_map = load_song_map("musicnn")
    n = len(reference.corpus)
    assert song_map.xy.shape == (n, 2) and np.isfinite(song_map.xy).all()
    assert song_map.adapter_sha256 == reference.corpus.adapter_sha256
    assert np.nanmin(song_map.valence) >= -1 and np.nanmax(song_map.arousal) <= 1


def test_a_reference_song_is_placed_on_its_own_point(reference):
    song_map = load_song_map("musicnn")
    embeddings = reference.corpus.song_embeddings
    rows = np.random.default_rng(0).choice(len(embeddings), 50, replace=False)
    placed = place(embeddings[rows], embeddings, song_map.xy)
    distance = np.linalg.norm(placed - song_map.xy[rows], axis=1)
    spread = np.linalg.norm(song_map.xy - song_map.xy.mean(axis=0), axis=1).mean()
    print(f"median distance to own point {np.median(distance):.4f} (map spread {spread:.3f})")
    assert np.median(distance) < 0.05 * spread


def test_a_new_song_lands_among_its_nearest_neighbours(reference):
    song_map = load_song_map("musicnn")
    embeddings = reference.corpus.song_embeddings
    a, b = embeddings[0], embeddings[1]
    mix = (a + b) / np.linalg.norm(a + b)
    (xy,) = place(mix[None], embeddings, song_map.xy)
    nearest = np.argsort(-(embeddings @ mix))[:8]
    lo, hi = song_map.xy[nearest].min(axis=0), song_map.xy[nearest].max(axis=0)
    assert np.all(xy >= lo - 1e-9) and np.all(xy <= hi + 1e-9)  # inside their bounding box


def test_catalogue_search_similar_and_extend(reference):
    catalogue = reference_catalogue(reference, reference.corpus.song_embeddings,
                                    load_song_map("musicnn"))
    n = len(catalogue)
    assert n == len(reference.corpus) == catalogue.n_anchor
    assert catalogue.names[0].startswith("Emotify classical track 001 (listeners: ")
    row = 5
    assert catalogue.similar(row, 3)[0][0] != row
    grown = catalogue.extend(["mine.ogg"], catalogue.embeddings[row][None], ["yours"],
                             np.array([[0.1, -0.2]]))
    assert len(grown) == n + 1 and len(catalogue) == n  # a copy
    assert np.allclose(grown.xy[:n], catalogue.xy)  # the stored layout never moves
    assert np.linalg.norm(grown.xy[-1] - catalogue.xy[row]) < 0.05
    assert grown.search(catalogue.embeddings[row], 2)[0][1] == pytest.approx(1.0, abs=1e-4)


def test_built_in_labels_have_fixed_positions():
    from emoalign.text.labels import load_label_set
    layout = load_label_layout()
    assert set(load_label_set("all").labels) <= set(layout)


def test_examples_analyses_round_trip(tmp_path):
    from emoalign.web.examples import song_from_dict, song_to_dict
    from emoalign.answer.results import SongAnalysis
    song = SongAnalysis("x", 25.0, np.array([0.0, 10.0]), np.ones((2, 4), np.float32),
                        np.eye(2, 384, dtype=np.float32), np.array([False, True]),
                        {"piano": 0.5}, ["a notice"], "musicnn", np.zeros((2, 16), np.float32))
    back = song_from_dict(song_to_dict(song))
    assert back.silent.dtype == bool and back.silent.tolist() == [False, True]
    np.testing.assert_allclose(back.song_embedding, song.song_embedding)
    assert back.tags == {"piano": 0.5} and back.tonal.shape == (2, 16)


def test_shipped_examples_have_current_analyses():
    from emoalign.digest import file_digest
    from emoalign.web.examples import EXAMPLES_DIR, load_examples, precomputed
    from emoalign.web.models import ModelChoice, Models
    stored = precomputed(Models().key(ModelChoice("musicnn", None)), EXAMPLES_DIR)
    examples = load_examples()
    missing = [e.path.name for e in examples if file_digest(e.path) not in stored]
    assert not missing, f"run python -m emoalign.web.examples (stale: {missing})"


def test_every_reference_song_has_a_readable_name(reference):
    """Names from the datasets' metadata (assets/reference/names.json): dataset, known label,
    and artist and title where the dataset gives them; one name per song."""
    catalogue = reference_catalogue(reference, reference.corpus.song_embeddings,
                                    load_song_map("musicnn"))
    names = dict(zip(map(str, reference.corpus.ids), catalogue.names))
    assert len(set(names.values())) == len(names)  # no two songs share a name
    assert names["4q/MT0000004637"] == (
        "Charlie Poole - Bulldog Down in Sunny Tennessee (4Q, Q3 sad, low)")
    assert names["vgmidi@musescore/8000"].startswith(
        "Lurking In The Darkness - Final Fantasy VII (VGMIDI piano, MuseScore render, Q")
    assert all(re.search(r"\((4Q|VGMIDI|MemoMusic|Emotify|listeners)", n) or
               n.startswith("Emotify") for n in names.values())
    assert not any(re.fullmatch(r"(4Q|Emotify|VGMIDI|MemoMusic) \S+", n) for n in names.values())

