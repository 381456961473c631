"""Mood journeys over a real library: real 4Q clips (one with a non-ASCII name) in album
folders, indexed with the real pipeline into a real SQLite file; `emoalign journey` run as a
user would, and its M3U8 read back."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from emoalign import cli
from emoalign.library.journey import (Endpoint, JourneyError, Pool, journey_of, plan, plan_minutes,
                                      plan_present, waypoints)
from emoalign.library.store import Library
from emoalign.library.playlist import endpoint, library_pool, m3u8_text, parse_point, place_words

PER_QUADRANT = 4
ALBUMS = 4
UNICODE_NAME = "Café Ünïcode — 夜.ogg"


@pytest.fixture(scope="module")
def library(tmp_path_factory, pipeline):
    """16 real clips in 4 album folders, indexed once: 4Q's (4 per quadrant, test split) when
    the dataset is here, else 16 cut from the bundled examples. Returns (music folder,
    library file)."""
    from conftest import DATA, example_clips, indexed_library
    root = tmp_path_factory.mktemp("journey")
    if (DATA / "4q" / "metadata.csv").is_file():
        with open(DATA / "4q" / "metadata.csv") as f:
            rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
        picked = [DATA / "4q" / r["file"] for q in ("Q1", "Q2", "Q3", "Q4")
                  for r in [x for x in rows if x["Quadrant"] == q][:PER_QUADRANT]]
    else:
        picked = [p for p, _ in example_clips(root / "cut", 4 * PER_QUADRANT)]
    db = indexed_library(root, {f"album {i % ALBUMS}/{UNICODE_NAME if i == 0 else source.name}":
                                source for i, source in enumerate(picked)}, pipeline)
    with Library(db, create=False) as lib:
        assert lib.roots() == [str(root / "music")]
    return root / "music", db


@pytest.fixture(scope="module")
def pool(library):
    with Library(library[1], create=False) as lib:
        pool, ids, unscored = library_pool(lib.index())
    assert unscored == 0 and len(pool) == 4 * PER_QUADRANT and len(ids) == len(pool)
    return pool


def progress_along(journey) -> float:
    """Correlation of play position with how far along the path's direction a song is."""
    direction = np.subtract(journey.end.point, journey.start.point)
    return float(np.corrcoef(np.arange(len(journey)), journey.va @ direction)[0, 1])


def random_mean_step(pool: Pool, length: int, draws: int = 200) -> float:
    rng = np.random.default_rng(0)
    path = waypoints((0, 0), (0, 0), length)
    return float(np.mean([journey_of(pool, list(rng.choice(len(pool), length, replace=False)),
                                     path, Endpoint("", (0, 0)), Endpoint("", (0, 0))).mean_step
                          for _ in range(draws)]))


def test_a_journey_moves_steadily_without_repeats_or_album_neighbours(pool):
    start, end = Endpoint("Q3", (-0.7, -0.7)), Endpoint("Q1", (0.7, 0.7))
    journey = plan(pool, start, end, 8)
    assert len(journey) == 8 and len(set(journey.rows)) == 8  # no song twice
    albums = [pool.albums[r] for r in journey.rows]
    assert all(a != b for a, b in zip(albums, albums[1:]))  # 4 albums: the library allows it
    assert progress_along(journey) > 0.8  # it moves from FROM towards TO
    assert journey.va[0] @ (1, 1) < journey.va[-1] @ (1, 1)
    assert journey.mean_step < 0.6 * random_mean_step(pool, 8)
    assert np.allclose(np.linalg.norm(np.diff(journey.va, axis=0), axis=1), journey.steps)
    back = plan(pool, end, start, 8)
    assert progress_along(back) > 0.8


def test_songs_as_endpoints_are_pinned_and_a_loop_is_a_steady_mix(pool):
    first, last = 3, 12
    journey = plan(pool, Endpoint("a", tuple(pool.va[first]), first, "song"),
                   Endpoint("b", tuple(pool.va[last]), last, "song"), 6)
    assert journey.rows[0] == first and journey.rows[-1] == last
    assert len(set(journey.rows)) == 6
    point = Endpoint("calm", (0.5, -0.5))
    steady = plan(pool, point, point, 5)
    distance = np.linalg.norm(pool.va - point.point, axis=1)
    # every song of a mood-steady mix is among the songs nearest the point (with room to
    # trade a little closeness for sounding alike)
    assert distance[steady.rows].max() <= np.sort(distance)[7]
    same = plan(pool, Endpoint("a", tuple(pool.va[first]), first, "song"),
                Endpoint("a", tuple(pool.va[first]), first, "song"), 4)
    assert same.rows[0] == first and len(set(same.rows)) == 4  # pinned once, no repeat


def test_minutes_count_real_durations(pool):
    minutes = 0.6 * float(np.sum(pool.durations)) / 60  # 3 min of 4Q clips; less when cut ones
    journey = plan_minutes(pool, Endpoint("a", (-0.5, 0.5)), Endpoint("b", (0.5, -0.5)), minutes)
    assert abs(journey.total_s - 60 * minutes) <= pool.durations.max() / 2
    assert journey.total_s == pytest.approx(pool.durations[journey.rows].sum())
    with pytest.raises(JourneyError, match="min of music"):
        plan_minutes(pool, Endpoint("a", (0, 0)), Endpoint("b", (0, 0)), 600)


def test_a_song_gone_from_disk_is_skipped(pool):
    gone = plan(pool, Endpoint("a", (-0.6, -0.6)), Endpoint("b", (0.6, 0.6)), 6).rows[2]
    journey, missing = plan_present(pool, Endpoint("a", (-0.6, -0.6)),
                                    Endpoint("b", (0.6, 0.6)), 6, present=lambda r: r != gone)
    assert missing == [gone] and gone not in journey.rows and len(journey) == 6
    with pytest.raises(JourneyError, match="no longer on disk"):
        plan_present(pool, Endpoint("s", (0, 0), gone, "song"), Endpoint("b", (0, 0)), 4,
                     present=lambda r: r != gone)


def test_bad_sizes_get_clear_messages(pool):
    a, b = Endpoint("a", (0, 0)), Endpoint("b", (0.5, 0.5))
    with pytest.raises(JourneyError, match="has only 16"):
        plan(pool, a, b, 17)
    with pytest.raises(JourneyError, match="at least 2"):
        plan(pool, a, b, 1)
    tiny = Pool(["x.ogg"], [[0, 0]], np.ones((1, 384)) / np.sqrt(384), [30.0])
    with pytest.raises(JourneyError, match="needs at least 2 songs"):
        plan(tiny, a, b, 2)


def test_endpoints_from_what_users_type(pool, pipeline):
    assert parse_point(" -0.6 , -0.4 ") == (-0.6, -0.4) and parse_point("calm, hopeful") is None
    with pytest.raises(JourneyError, match="off the valence/arousal plane"):
        parse_point("2,0")
    song = endpoint(pool.names[5], pool, lambda key: pool.names.index(key)
                    if key in pool.names else None, lambda: pipeline)
    assert song.kind == "song" and song.song == 5
    no_song = lambda key: None  # noqa: E731
    with pytest.raises(JourneyError, match="No song 'gone.ogg' in the library"):
        endpoint("album 1/gone.ogg", pool, no_song, lambda: pipeline)
    with pytest.raises(JourneyError, match="'asdfgh': no feeling"):
        endpoint("sad, asdfgh", pool, no_song, lambda: pipeline)
    sad = endpoint("sad", pool, no_song, lambda: pipeline)
    happy = endpoint("happy, joyful", pool, no_song, lambda: pipeline)
    assert sad.kind == "words" and sad.label == "sad" and happy.label == "happy, joyful"
    # placed by the library's best-scoring songs (without `word_positions`): their valence is
    # what the model reads least well, their arousal apart
    assert sad.point[1] < happy.point[1]


def test_words_are_placed_where_the_pipeline_places_them(pipeline):
    """Words as an endpoint sit at the mean of their places on the plane (plane.py)."""
    v, a = place_words(pipeline, ["sad", "calm"])
    places = pipeline.word_positions(["sad", "calm"])
    assert (v, a) == pytest.approx(tuple(places.mean(axis=0)))
    assert v < 0.2 and a < 0  # sad and calm: the low half of the plane


def test_m3u8_text_is_one_line_per_field():
    text = m3u8_text([("a b/c.ogg", "name\nwith break", 29.6)], "t")
    assert text.splitlines() == ["#EXTM3U", "#PLAYLIST:t", "#EXTINF:30,name with break",
                                 "a b/c.ogg"]


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main(["journey", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def read_m3u8(path: Path) -> list[tuple[int, str, Path]]:
    """(seconds, name, file) per entry; checks the header and UTF-8."""
    lines = path.read_bytes().decode("utf-8").splitlines()
    assert lines[0] == "#EXTM3U" and lines[1].startswith("#PLAYLIST:")
    entries = []
    for info, location in zip(lines[2::2], lines[3::2]):
        assert info.startswith("#EXTINF:") and not location.startswith("#")
        seconds, name = info[len("#EXTINF:"):].split(",", 1)
        assert not Path(location).is_absolute()
        entries.append((int(seconds), name, path.parent / location))
    return entries


def test_cli_journey_prints_writes_m3u8_and_json(library, tmp_path, capsys):
    music, db = library
    out = tmp_path / "lists" / "sad to happy.m3u8"
    out.parent.mkdir()
    code, printed, err = run(capsys, "-0.6,-0.5", "happy", "--db", str(db), "--length", "6",
                             "--out", str(out))
    assert code == 0, err
    assert "From -0.6,-0.5 (-0.60, -0.50) to happy" in printed and "largest" in printed
    assert len([line for line in printed.splitlines() if line.lstrip()[:1].isdigit()]) == 6
    entries = read_m3u8(out)
    assert len(entries) == 6 and len({e[2].resolve() for e in entries}) == 6
    assert all(file.is_file() and music in file.parents for _, _, file in
               [(s, n, Path(os.path.normpath(f))) for s, n, f in entries])
    assert all(5 <= seconds <= 31 for seconds, _, _ in entries)  # 4Q clips ~30 s, cut ones 10 s
    code, printed, err = run(capsys, "album 0/" + UNICODE_NAME, "0.6,0.6", "--db", str(db),
                             "--length", "5", "--json", "--out", str(out))
    assert code == 0, err
    data = json.loads(printed)
    assert data["from"]["kind"] == "song" and data["songs"][0]["song"] == "album 0/" + UNICODE_NAME
    assert read_m3u8(out)[0][1] == Path(UNICODE_NAME).stem  # UTF-8 names survive
    assert [s["position"] for s in data["songs"]] == [1, 2, 3, 4, 5]
    assert data["songs"][0]["step"] is None and data["max_step"] == max(
        s["step"] for s in data["songs"][1:])
    with Library(db, create=False) as lib:  # a song by its id, another by a hash prefix
        first, last = lib.song(data["songs"][1]["song"]), lib.song(data["songs"][3]["song"])
    code, printed, err = run(capsys, str(first.id), last.hash[:12], "--db", str(db),
                             "--length", "4", "--json")
    songs = [s["song"] for s in json.loads(printed)["songs"]]
    assert code == 0 and songs[0] == first.path and songs[-1] == last.path and len(songs) == 4
    code, printed, err = run(capsys, "calm", "calm", "--db", str(db), "--minutes", "2")
    assert code == 0, err
    assert "From calm" in printed and " min, out of 16" in printed


def test_cli_errors_are_clear_and_name_no_server_path(library, tmp_path, capsys):
    music, db = library
    empty = tmp_path / "empty.db"
    Library(empty).close()
    cases = [(("sad", "happy", "--db", str(empty)), "a journey needs at least 2"),
             (("sad", "happy", "--db", str(tmp_path / "none.db")), "No library yet"),
             (("album 9/nope.ogg", "happy", "--db", str(db)), "No song 'nope.ogg'"),
             (("sad", "qwzx", "--db", str(db)), "'qwzx': no feeling"),
             (("999", "happy", "--db", str(db)), "No song with the id or hash '999'"),
             (("sad", "happy", "--db", str(db), "--length", "40"), "has only 16"),
             (("sad", "2,0", "--db", str(db)), "off the valence/arousal plane")]
    for args, message in cases:
        code, _, err = run(capsys, *args)
        assert code == 2 and message in err, (args, err)
        assert str(tmp_path) not in err and str(music) not in err


def test_cli_skips_songs_removed_from_disk(library, tmp_path, capsys):
    """A copy of the music folder with one song deleted, named with --music."""
    music, db = library
    copy = tmp_path / "music"
    shutil.copytree(music, copy, symlinks=True)
    code, printed, _ = run(capsys, "-0.6,-0.6", "0.6,0.6", "--db", str(db), "--length", "8",
                           "--json", "--music", str(copy))
    chosen = json.loads(printed)["songs"][3]["song"]
    (copy / chosen).unlink()
    out = tmp_path / "j.m3u8"
    code, printed, err = run(capsys, "-0.6,-0.6", "0.6,0.6", "--db", str(db), "--length", "8",
                             "--json", "--music", str(copy), "--out", str(out))
    assert code == 0, err
    assert f"{chosen} is no longer on disk and was skipped" in err
    songs = [s["song"] for s in json.loads(printed)["songs"]]
    assert chosen not in songs and len(songs) == 8
    assert all(copy in Path(os.path.normpath(f)).parents for _, _, f in read_m3u8(out))
