"""The persistent library: store, indexing, and the index/search/similar/export commands, on
real songs (the bundled examples written again: 30 s each), the real models and a real SQLite
file."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, example_clips
from emoalign import cli
from emoalign.library.indexing import index_folder, scored_labels
from emoalign.library.store import SCHEMA_VERSION, Library, LibraryError, SongRow
from emoalign.library.search import SongIndex, reference_index


def run_cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "emoalign.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    """Six real songs of 30 s (the bundled examples, written again)."""
    return [path for path, _ in example_clips(tmp_path_factory.mktemp("clips"), 6)]


def folder_of(root: Path, clips: list[Path]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for clip in clips:
        (root / clip.name).symlink_to(clip)
    return root


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, clips, pipeline):
    """A folder of 3 real clips, a duplicate of one (in a subfolder), a damaged file and a
    text file, indexed once into a library."""
    root = folder_of(tmp_path_factory.mktemp("music"), clips[:3])
    (root / "copies").mkdir()
    (root / "copies" / "again.ogg").write_bytes((root / clips[0].name).read_bytes())
    (root / "broken.wav").write_bytes(b"RIFF\x00\x10\x00\x00WAVEfmt " + b"\x07" * 4000)
    (root / "notes.txt").write_text("not audio")
    library = Library(root.parent / f"{root.name}.db")
    report = index_folder(root, library, pipeline, progress=False)
    return root, library, report


def test_index_writes_each_song_once_with_every_column(indexed, pipeline, clips):
    root, library, report = indexed
    assert (report.found, report.added, report.duplicates, len(report.failed)) == (5, 3, 1, 1)
    songs = library.songs()
    assert len(songs) == 3 and len({s.hash for s in songs}) == 3
    first = next(s for s in songs if clips[0].name in s.paths)
    assert sorted(first.paths) == sorted([clips[0].name, "copies/again.ogg"])  # duplicate: one song, both paths
    labels = scored_labels()
    assert library.score_labels == labels
    answer = pipeline.predict(root / first.path, labels)
    for song in songs:
        assert song.embedding.shape == (384,) and abs(np.linalg.norm(song.embedding) - 1) < 1e-5
        assert song.segment_embeddings.shape == (len(song.segment_starts), 384)
        assert song.segment_va.shape == (len(song.segment_starts), 2)
        assert song.scores.shape == song.raw.shape == (len(labels),) and song.calibrated
        assert song.encoder == "musicnn" and song.adapter_sha256 == pipeline.adapter_card["sha256"]
        assert 25 < song.duration_s < 35
    # the stored row is what predict says for that file
    assert abs(first.valence - answer.va.valence) < 1e-6
    stored = dict(zip(labels, first.scores))
    assert all(abs(stored[r["word"]] - r["score"]) < 1e-4 for r in answer.to_dict()["ranking"])


def test_damaged_file_goes_to_the_errors_table(indexed):
    root, library, report = indexed
    (path, reason), = library.errors()
    assert path == "broken.wav" and "broken.wav" in reason
    assert str(root) not in reason and "Traceback" not in reason


def test_rerun_is_idempotent(indexed, pipeline):
    root, library, _ = indexed
    before = [(s.id, s.hash, s.embedding.tobytes()) for s in library.songs()]
    again = index_folder(root, library, pipeline, progress=False)
    assert (again.added, again.skipped, len(again.failed)) == (0, 4, 1)
    assert [(s.id, s.hash, s.embedding.tobytes()) for s in library.songs()] == before


def test_search_similar_and_export(indexed, capsys, clips):
    root, library, _ = indexed
    db = str(library.path)
    assert cli.main(["search", "calm, peaceful", "--db", db, "--json"]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {h["song"] for h in hits} == {s.path for s in library.songs()}
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert all(h["source"] == "library" and 0 <= h["score"] <= 1 for h in hits)

    name = clips[0].name
    assert cli.main(["similar", name, "--db", db, "--json", "--top", "5"]) == 0
    similar = [json.loads(line)["song"] for line in capsys.readouterr().out.splitlines()]
    assert len(similar) == 2 and name not in similar  # the song itself is left out

    assert cli.main(["export", "--csv", "--db", db]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(table) == 3
    assert {"id", "path", "paths", "hash", "duration_s", "valence", "arousal", "quadrant",
            "quadrant_words", "top1", "top1_score", "top3_score"} <= set(table[0])
    from emoalign.text.labels import DEFAULT_LABELS, load_label_set
    moods = set(load_label_set(DEFAULT_LABELS).labels)  # plain mood words by default
    assert all(r["top1"] in moods and 0 <= float(r["top1_score"]) <= 1 for r in table)
    assert float(table[0]["top1_score"]) >= float(table[0]["top2_score"])
    assert any(r["paths"] == f"{name}|copies/again.ogg" or r["paths"] == f"copies/again.ogg|{name}"
               for r in table)

    out = root.parent / "export.jsonl"
    assert cli.main(["export", "--json", "--labels", "quadrants", "--db", db, "--out", str(out)]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 3 and all(len(r["scores"]) == 4 and len(r["top"]) == 3 for r in records)
    assert all(r["quadrant"] in (0, 1, 2, 3, 4) and -1 <= r["valence"] <= 1 for r in records)

    assert cli.main(["export", "--json", "--words", "wistful, furious", "--db", db]) == 0
    scored = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(set(r["scores"]) == {"wistful", "furious"} for r in scored)


def test_empty_library_searches_the_reference_corpus(tmp_path, capsys):
    Library(tmp_path / "empty.db").close()
    assert cli.main(["search", "triumphant", "--db", str(tmp_path / "empty.db"), "--top", "3"]) == 0
    out, err = capsys.readouterr()
    assert "empty" in err and "reference corpus" in err and "emoalign index" in err
    assert "1,739 songs (reference corpus)" in out and out.count("\n") == 4
    assert cli.main(["similar", "emotify/12", "--reference", "--json", "--top", "4"]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(hits) == 4 and "emotify/12" not in {h["song"] for h in hits}
    assert cli.main(["export", "--csv", "--db", str(tmp_path / "empty.db")]) == 2
    assert "empty" in capsys.readouterr().err


def test_search_by_words_agrees_with_predict(capsys):
    """Searching "sad" ranks by the score predict shows: the songs first are read as sad
    (negative valence, low arousal), and the order is that score's."""
    from emoalign import EmotionPipeline
    assert cli.main(["search", "sad", "--reference", "--json", "--top", "10"]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    pipe = EmotionPipeline()
    readings = pipe.reference_valence_arousal
    rows = [pipe.reference.corpus.ids.tolist().index(h["song"]) for h in hits]
    assert all(readings[r, 0] < 0 for r in rows[:5]), readings[rows]
    scores = pipe.rank_songs(["sad"], pipe.reference_embeddings, readings)
    assert [h["score"] for h in hits] == [round(float(v), 4) for v in np.sort(scores)[::-1][:10]]


def test_bad_library_paths_get_a_clear_error(tmp_path, clips):
    folder = folder_of(tmp_path / "music", clips[:1])
    if os.geteuid() == 0:  # root writes through permission bits; /proc refuses everyone
        unwritable = "/proc/emoalign/library.db"
    else:
        (tmp_path / "locked").mkdir(mode=0o500)
        unwritable = str(tmp_path / "locked" / "library.db")
    result = run_cli("index", str(folder), "--db", unwritable, "--quiet")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Cannot" in result.stderr and "library.db" in result.stderr
    not_a_library = tmp_path / "notes.db"
    not_a_library.write_text("hello " * 1000)
    with pytest.raises(LibraryError, match="not an EmoAlign library"):
        Library(not_a_library)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("index", str(empty), "--db", str(tmp_path / "lib.db"))
    assert result.returncode == 2 and "No audio files" in result.stderr
    assert "Traceback" not in result.stderr


def _row(rng, digest: str, path: str, n_labels: int | None) -> SongRow:
    unit = lambda a: (a / np.linalg.norm(a, axis=-1, keepdims=True)).astype(np.float32)  # noqa: E731
    segments = unit(rng.normal(size=(3, 384)))
    return SongRow(digest, path, 30.0, unit(segments.mean(0)), np.arange(3) * 10.0,
                   np.zeros(3, bool), segments, 0.1, -0.2, np.zeros((3, 2)),
                   None if n_labels is None else rng.random(n_labels),
                   None if n_labels is None else rng.random(n_labels), True, "musicnn", "abc")


def test_schema_migrates_from_version_1(tmp_path):
    """A version-1 library (no valence/arousal, no scores) written by hand: opening it
    upgrades the schema and keeps its rows, which the next index run re-analyses."""
    from emoalign.library.rows import SCHEMA_V1
    path, rng = tmp_path / "old.db", np.random.default_rng(0)
    old = _row(rng, "a" * 64, "old.ogg", None).to_record()
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_V1)
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    v1 = ("hash", "path", "duration_s", "encoder", "adapter_sha256", "embedding",
          "segment_starts", "segment_silent", "segment_embeddings", "indexed_at")
    db.execute(f"INSERT INTO songs({', '.join(v1)}) VALUES ({', '.join('?' * len(v1))})",
               [old[c] for c in v1])
    db.commit()
    db.close()
    with Library(path) as library:
        version = library.db.execute("SELECT value FROM meta WHERE key='schema_version'")
        assert int(version.fetchone()[0]) == SCHEMA_VERSION == 2
        (song,) = library.songs()
        assert song.path == "old.ogg" and song.scores is None and song.valence is None
        assert np.allclose(song.embedding, np.frombuffer(old["embedding"], np.float32))
        assert library.complete_hashes("musicnn", "abc") == set()  # to be re-analysed
        library.add(_row(rng, "a" * 64, "old.ogg", 4), ["a", "b", "c", "d"])
        (song,) = library.songs()
        assert song.id == 1 and song.scores.shape == (4,) and song.valence == pytest.approx(0.1)
        assert library.complete_hashes("musicnn", "abc") == {"a" * 64}
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(LibraryError, match="newer EmoAlign"):
        Library(path)


def test_scores_made_with_older_label_meanings_are_not_served(tmp_path):
    """Stored GEMS scores from before the labels had describing words: export scores the
    stored embeddings again instead of serving them."""
    rng, labels = np.random.default_rng(2), ["amazement", "calm"]
    with Library(tmp_path / "lib.db") as library:
        library.add(_row(rng, "a" * 64, "a.ogg", 2), labels)
        assert library.scores_current  # a new library: scores of today's meanings
    with sqlite3.connect(tmp_path / "lib.db") as db:  # as an older version left it
        db.execute("DELETE FROM meta WHERE key='score_meanings'")
    with Library(tmp_path / "lib.db") as library:
        assert not library.scores_current
        library.add(_row(rng, "b" * 64, "b.ogg", 2), labels)
        assert not library.scores_current  # old and new scores mixed: still not served
    with Library(tmp_path / "lib.db") as library:
        stored = library.songs()[0].scores
    result = run_cli("export", "--json", "--db", str(tmp_path / "lib.db"), "--words", "amazement, calm")
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout.splitlines()[0])
    assert list(first["scores"]) == labels  # both stored, yet scored from the stored embedding
    assert first["scores"]["amazement"] != pytest.approx(float(stored[0]), abs=1e-4)


def test_song_index_ranks_by_cosine():
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(50, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = SongIndex("library", [f"s{i}" for i in range(50)], vectors)
    hits = index.search(vectors[7], top=5)
    assert hits[0] == (7, 1.0) and len(hits) == 5
    assert [c for _, c in hits] == sorted((c for _, c in hits), reverse=True)
    assert 7 not in [i for i, _ in index.search(vectors[7], top=49, exclude=7)]
    reference = reference_index()
    assert len(reference) == 1739 and reference.find("emotify/12") is not None
    assert {i["dataset"] for i in reference.info} == {"emotify", "4q", "vgmidi", "memomusic"}


@pytest.mark.slow
def test_index_resumes_after_kill_9(tmp_path, clips):
    """A real `emoalign index` killed with SIGKILL after its first row: the rerun adds only
    what is missing; every song is there once, with every column."""
    folder = folder_of(tmp_path / "music", clips[:6])
    db = tmp_path / "lib.db"
    command = [sys.executable, "-m", "emoalign.cli", "index", str(folder), "--db", str(db), "--quiet"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, written = time.time() + 300, 0
    while time.time() < deadline and process.poll() is None and written < 1:
        time.sleep(0.2)
        written = _rows(db)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert 1 <= _rows(db) < 6
    killed_at = _rows(db)
    result = run_cli("index", str(folder), "--db", str(db), "--quiet")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{killed_at} already in the library" in result.stderr
    with Library(db) as library:
        songs = library.songs()
        assert sorted(s.path for s in songs) == sorted(c.name for c in clips[:6])
        assert len({s.hash for s in songs}) == 6 and not library.errors()
        assert all(s.scores is not None and s.segment_va is not None and s.valence is not None
                   for s in songs)
        assert library.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _rows(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as reader:
            return reader.execute("SELECT count(*) FROM songs").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
def test_predict_several_files_one_json_line_each(clips, tmp_path):
    a, b = clips[:2]
    result = run_cli("predict", str(a), str(b), str(tmp_path / "gone.wav"), "--json")
    assert result.returncode == 2  # one of them failed
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == [a.name, b.name, "gone.wav"]
    assert {"file", "duration_s", "valence", "arousal", "quadrant", "calibrated", "ranking",
            "notices", "music"} == set(lines[0])
    assert len(lines[0]["ranking"]) == 26 and "No such audio file" in lines[2]["error"]
    assert str(tmp_path) not in result.stdout


def test_prune_forgets_files_gone_from_the_folder(tmp_path, clips, capsys):
    """Without --prune a removed file's song stays; with it, songs whose every file is gone
    leave the library (and its search), and a song whose first file went keeps its copy."""
    clips = clips[:3]
    root = folder_of(tmp_path / "music", clips)
    (root / "copies").mkdir()
    (root / "copies" / "again.ogg").write_bytes(clips[0].read_bytes())
    (root / "broken.wav").write_bytes(b"RIFF\x00\x10\x00\x00WAVEfmt " + b"\x07" * 4000)
    db = str(tmp_path / "lib.db")
    assert cli.main(["index", str(root), "--db", db, "--quiet"]) == 0
    (root / clips[1].name).unlink()
    assert cli.main(["index", str(root), "--db", db, "--quiet"]) == 0
    with Library(db) as library:
        assert library.count() == 3  # not pruned: the removed file's song stays
    (root / clips[0].name).unlink()  # its copy remains
    (root / clips[2].name).unlink()
    (root / "broken.wav").unlink()
    capsys.readouterr()
    assert cli.main(["index", str(root), "--db", db, "--quiet", "--prune"]) == 0
    assert "Removed 2 songs no longer in the folder" in capsys.readouterr().err
    with Library(db) as library:
        (song,) = library.songs()
        assert song.path == "copies/again.ogg" and song.paths == ["copies/again.ogg"]
        assert library.errors() == [] and len(library.index()) == 1
