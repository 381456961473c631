"""The Explore tab over an indexed library: a real library (two real songs, from the bundled
examples, indexed with the
real pipeline into a real SQLite file) joins the map, search and similar when the app is not
public, under paths relative to the indexed folder; in public mode it is never read."""

from __future__ import annotations

import pytest

gr = pytest.importorskip("gradio")

from conftest import LIVELY_SONG, indexed_library

CLIPS = ("offshore-copy.flac", LIVELY_SONG.name)  # conftest.calm_copy and a bundled example


@pytest.fixture(scope="module")
def library_file(tmp_path_factory, calm_copy):
    from emoalign.library.store import Library

    songs = {f"mine/{name}": song for name, song in zip(CLIPS, (calm_copy, LIVELY_SONG))}
    path = indexed_library(tmp_path_factory.mktemp("library"), songs)
    with Library(path, create=False) as library:  # another model's songs are left out
        assert len(library.index()) == len(CLIPS) and len(library.index("mert")) == 0
    return path


@pytest.fixture
def explore(monkeypatch, library_file):
    from emoalign.web import explore
    monkeypatch.setenv("EMOALIGN_LIBRARY", str(library_file))
    monkeypatch.setattr(explore, "PUBLIC", False)
    return explore


def test_the_library_joins_map_search_and_similar(explore, calm_copy):
    from emoalign.web.session import Entry, Session
    from emoalign.web.config import ANALYSES

    session = Session()
    catalogue = explore.browsable(session)
    rows = [i for i, s in enumerate(catalogue.sources) if s == "library"]
    assert sorted(catalogue.names[i] for i in rows) == sorted(f"mine/{name}" for name in CLIPS)
    assert all(-1 <= catalogue.valence[i] <= 1 and -1 <= catalogue.arousal[i] <= 1
               for i in rows)
    base = len(explore.catalogue_for(session))
    figure, info = explore.embedding_map("gems", "valence", False, session)
    assert sum(len(trace.x) for trace in figure.data) == base + len(CLIPS)
    assert f"{len(CLIPS)} from your library" in info
    # the same song analysed in the session: its library copy (and the bundled example it was
    # made from) are the most similar songs
    song, digest = ANALYSES.analyse(session.model, calm_copy, CLIPS[0])
    session = session.with_song(Entry(song, digest, "yours"))
    similar = explore.similar_songs(CLIPS[0], session).head(2)
    mine = similar[similar["song"] == f"mine/{CLIPS[0]}"]
    assert len(mine) == 1 and mine.iloc[0]["source"] == "your library"
    assert mine.iloc[0]["score"] > 0.999
    assert not any("/tmp" in str(name) for name in similar["song"])  # relative paths only


def test_public_mode_never_reads_the_library(explore, monkeypatch):
    from emoalign.web.session import Session
    monkeypatch.setattr(explore, "PUBLIC", True)
    opened = []
    monkeypatch.setattr(explore, "Library", lambda *a, **k: opened.append(a))
    assert explore.library_extra(Session()) is None
    assert "library" not in explore.browsable(Session()).sources and not opened


def test_similar_can_start_from_a_library_song(explore):
    """A library path typed into 'Songs like this' needs no song in the session: the same music
    among the bundled examples comes first, the song itself is left out."""
    from emoalign.web.session import NoSong, Session
    similar = explore.similar_songs(f"mine/{CLIPS[0]}", Session())
    assert f"mine/{CLIPS[0]}" not in set(similar["song"])
    assert similar.iloc[0]["song"] == "Offshore" and similar.iloc[0]["score"] > 0.99
    with pytest.raises(NoSong):
        explore.similar_songs("mine/nothing.ogg", Session())
