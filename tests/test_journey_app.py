"""Journeys in the app's Explore tab: over a real indexed library (4 real 4Q clips in two album
folders, indexed with the app's own model) when local; over the session's songs only, by
their names, in public mode; and through a real server's API."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

gr = pytest.importorskip("gradio")

from app_server import launched_app  # noqa: E402
from conftest import indexed_library  # noqa: E402

N_CLIPS = 6


@pytest.fixture(scope="module")
def library_file(tmp_path_factory, data_dir):
    with open(data_dir / "4q" / "metadata.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "validation"][:N_CLIPS]
    return indexed_library(tmp_path_factory.mktemp("journey-app"),
                           {f"album {i % 2}/{row['Song']}.ogg": data_dir / "4q" / row["file"]
                            for i, row in enumerate(rows)})


@pytest.fixture
def web(monkeypatch, library_file):
    from emoalign.web import journey
    monkeypatch.setenv("EMOALIGN_LIBRARY", str(library_file))
    monkeypatch.setattr(journey, "PUBLIC", False)
    return journey


def m3u8_entries(path: str) -> list[tuple[str, str]]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    return [(info, location) for info, location in zip(lines[2::2], lines[3::2])]


def test_local_journey_over_the_library_plays_in_order(web):
    from emoalign.web.session import Session
    figure, frame, m3u8, playlist, audio, playing = web.make_journey(
        "-0.7,-0.7", "0.7,0.7", 4, Session())
    assert list(frame["#"]) == [1, 2, 3, 4] and frame["song"].is_unique
    assert all(name.startswith("album ") for name in frame["song"])  # library paths
    albums = [name.split("/")[0] for name in frame["song"]]
    assert all(a != b for a, b in zip(albums, albums[1:]))
    names = {trace.name for trace in figure.data}
    assert {"plane", "songs", "path", "journey"} <= names
    drawn = next(t for t in figure.data if t.name == "journey")
    assert list(drawn.x) == pytest.approx(list(frame["valence"]), abs=0.006)
    entries = m3u8_entries(m3u8)
    assert len(entries) == 4 and all(Path(location).is_file() for _, location in entries)
    def same(audio, k):  # the player gets a copy (Gradio serves no file from the music)
        return Path(audio).read_bytes() == Path(playlist["files"][k]).read_bytes()

    assert same(audio, 0) and Path(audio).name == Path(playlist["files"][0]).name
    assert playing.startswith(f"Playing 1 of 4: {frame['song'][0]}")
    playlist, audio, playing = web.next_song(playlist)  # what the player's end triggers
    assert same(audio, 1) and playing.startswith("Playing 2 of 4")
    playlist, audio, playing = web.previous_song(playlist)
    assert same(audio, 0)
    for _ in range(3):
        playlist, audio, playing = web.next_song(playlist)
    assert web.next_song(playlist)[2] == "The journey is over."


def test_a_library_song_gone_from_disk_is_skipped_with_a_note(web):
    from emoalign.web.session import Session
    _, frame, _, playlist, _, _ = web.make_journey("-0.7,-0.7", "0.7,0.7", 4, Session())
    gone = Path(playlist["files"][1])
    hidden = gone.with_name(gone.name + ".away")
    gone.rename(hidden)
    try:
        _, after, m3u8, _, _, playing = web.make_journey("-0.7,-0.7", "0.7,0.7", 4, Session())
    finally:
        hidden.rename(gone)
    assert f"{frame['song'][1]} is no longer on disk and was skipped." in playing
    assert frame["song"][1] not in list(after["song"]) and len(after) == 4
    assert all(Path(location).is_file() for _, location in m3u8_entries(m3u8))


def test_public_mode_uses_the_session_songs_by_name(web, monkeypatch, data_dir):
    from emoalign.web.session import Entry, Session
    from emoalign.web.config import ANALYSES, EXAMPLES, seed_examples
    monkeypatch.setattr(web, "PUBLIC", True)
    opened = []
    monkeypatch.setattr(web, "Library", lambda *a, **k: opened.append(a))
    seed_examples()
    session = Session()
    for example in EXAMPLES[:3]:
        song, digest = ANALYSES.analyse(session.model, example.path, example.title)
        session = session.with_song(Entry(song, digest, "example", example.emotions))
    clip, kept = sorted((data_dir / "4q" / "audio").glob("*.ogg"))[:2]
    song, digest = ANALYSES.analyse(session.model, clip, "my song.ogg")
    session = session.with_song(Entry(song, digest, "yours"))  # Gradio's cache dropped the file
    song, digest = ANALYSES.analyse(session.model, kept, "kept.ogg")
    session = session.with_song(Entry(song, digest, "yours", file=str(kept)))
    figure, frame, m3u8, playlist, audio, playing = web.make_journey(
        "-0.6,0.6", "0.6,-0.6", 10, session)
    assert sorted(frame["song"]) == sorted(session.songs) and not opened  # 5 songs, no more
    locations = [location for _, location in m3u8_entries(m3u8)]
    assert sorted(locations) == sorted(session.songs)  # names, never a server path
    assert "Only 5 songs to choose from." in playing
    assert "/" not in playing and str(data_dir) not in playing
    # an upload the server no longer has is listed, and skipped by the player; one it still
    # has plays (a copy in the session's folder)
    assert playlist["files"][playlist["names"].index("my song.ogg")] is None
    assert playlist["files"][playlist["names"].index("kept.ogg")] == str(kept)
    with pytest.raises(ValueError, match="Analyse a song"):
        web.make_journey("sad", "happy", 4, Session())


def test_journey_through_the_api_of_a_real_server(library_file):
    from gradio_client import Client
    from gradio_client.exceptions import AppError
    with launched_app({"EMOALIGN_LIBRARY": str(library_file), "EMOALIGN_PRELOAD": "0"}) as url:
        client = Client(url, verbose=False)
        result = client.predict("-0.7,-0.7", "calm", 5, api_name="/journey")
        table = next(r for r in result if isinstance(r, dict) and "headers" in r)
        rows = [dict(zip(table["headers"], row)) for row in table["data"]]
        assert [r["#"] for r in rows] == [1, 2, 3, 4, 5]
        m3u8 = next(r for r in result if isinstance(r, str) and r.endswith(".m3u8"))
        assert len(m3u8_entries(m3u8)) == 5
        with pytest.raises(AppError, match="no feeling"):
            client.predict("qwzx", "calm", 5, api_name="/journey")
