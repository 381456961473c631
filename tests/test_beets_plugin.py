"""The beets plugin with a real beets: real 4Q clips, tagged, imported into a beets library in a
temp dir (`beet import`, no autotagger), then `beet emoalign`, `beet ls mood_...` and
`beet emoalign --journey` run as a user would."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

pytest.importorskip("beets")
mutagen = pytest.importorskip("mutagen")

CLIPS_PER_ALBUM = 3
ALBUMS = ("Night Drive", "Morning Light")


def beet(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "BEETSDIR": str(home), "PYTHONPATH": str(REPO)}
    return subprocess.run([str(Path(sys.executable).with_name("beet")), *args], cwd=home,
                          env=env, capture_output=True, text=True, timeout=600)


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.ogg"))}


@pytest.fixture(scope="module")
def beets_home(tmp_path_factory):
    """A beets library of the 6 bundled example clips in two albums (copied, tags written by
    us first)."""
    if not Path(sys.executable).with_name("beet").exists():
        pytest.skip("beets is not installed in this environment (pip install emoalign[beets])")
    home = tmp_path_factory.mktemp("beets")
    rows = sorted((REPO / "assets" / "examples").glob("*.ogg"))[: CLIPS_PER_ALBUM * len(ALBUMS)]
    for i, clip in enumerate(rows):
        album = ALBUMS[i % len(ALBUMS)]
        folder = home / "incoming" / album
        folder.mkdir(parents=True, exist_ok=True)
        copy = folder / clip.name
        shutil.copy(clip, copy)
        tags = mutagen.File(copy, easy=True)  # Ogg/Vorbis
        tags.update({"artist": clip.stem.split("_")[0], "title": clip.stem, "album": album,
                     "albumartist": "Various", "tracknumber": str(i // len(ALBUMS) + 1)})
        tags.save()
    (home / "config.yaml").write_text(
        f"directory: {home / 'music'}\nlibrary: {home / 'library.db'}\nplugins: emoalign\n"
        "import:\n  copy: yes\n  write: no\n  autotag: no\n  quiet: yes\n")
    imported = beet(home, "import", "-A", "-q", str(home / "incoming"))
    assert imported.returncode == 0, imported.stderr[-2000:]
    listed = beet(home, "ls", "-p")
    assert len(listed.stdout.split("\n")) - 1 == len(rows), listed.stdout
    return home


def fields(home: Path, query: str = "") -> list[dict]:
    result = beet(home, "ls", "-f", "$path|$mood_valence|$mood_arousal|$mood_quadrant|"
                                    "$mood_words|$album", *([query] if query else []))
    assert result.returncode == 0, result.stderr[-2000:]
    keys = ("path", "valence", "arousal", "quadrant", "words", "album")
    return [dict(zip(keys, line.split("|"))) for line in result.stdout.splitlines()]


def test_beet_emoalign_stores_moods_and_writes_no_file(beets_home):
    before = digests(beets_home / "music")
    first = beet(beets_home, "emoalign")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "6 analysed, 0 already done with this model, 0 failed" in first.stdout
    assert digests(beets_home / "music") == before  # no audio file was written
    items = fields(beets_home)
    from emoalign.text.labels import DEFAULT_LABELS, load_label_set
    moods = set(load_label_set(DEFAULT_LABELS).labels)  # plain mood words
    from emoalign.answer.reference import open_reference
    radius = open_reference("musicnn", 200)[0].neutral_radius
    for item in items:
        v, a = float(item["valence"]), float(item["arousal"])
        assert -1 <= v <= 1 and -1 <= a <= 1
        if np.hypot(v, a) < radius - 0.01:  # near the centre: neutral / mixed
            assert int(item["quadrant"]) == 0
        elif np.hypot(v, a) > radius + 0.01 and min(abs(v), abs(a)) > 0.01:  # shown with 2 decimals: the sign of +-0.00 is lost
            assert int(item["quadrant"]) == (1 if a > 0 and v > 0 else 2 if a > 0 else
                                             4 if v > 0 else 3)
        words = item["words"].split(", ")
        assert len(words) == 3 and set(words) <= moods
    again = beet(beets_home, "emoalign")
    assert "0 analysed, 6 already done with this model" in again.stdout
    # a range query over the float field: exactly the items at or above the value
    shown = sorted(float(i["valence"]) for i in items)  # 2 decimals: cut halfway between
    assert shown[3] - shown[2] >= 0.01, shown
    threshold = round((shown[2] + shown[3]) / 2, 3)
    above = fields(beets_home, f"mood_valence:{threshold}..")
    assert {i["path"] for i in above} == {i["path"] for i in items
                                         if float(i["valence"]) >= threshold}
    assert 0 < len(above) < len(items)


def test_beet_emoalign_journey_writes_a_playlist(beets_home):
    if "6 already done" not in beet(beets_home, "emoalign").stdout:
        pytest.fail("the items were not analysed (see the test before)")
    out = beets_home / "lists" / "journey.m3u8"
    out.parent.mkdir(exist_ok=True)
    result = beet(beets_home, "emoalign", "--journey", "-0.7,-0.7", "0.7,0.7", "--length", "5",
                  "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U" and len(lines) == 2 + 2 * 5
    files = [(out.parent / line).resolve() for line in lines[3::2]]
    assert len(set(files)) == 5 and all(f.is_file() for f in files)
    assert all(not Path(line).is_absolute() and line.startswith("../music/")
               for line in lines[3::2])
    by_path = {Path(i["path"]).resolve(): i for i in fields(beets_home)}
    albums = [by_path[f]["album"] for f in files]
    assert all(a != b for a, b in zip(albums, albums[1:]))  # two albums alternate
    va = [float(by_path[f]["valence"]) + float(by_path[f]["arousal"]) for f in files]
    assert va[0] < va[-1]  # from the sad corner towards the happy one
    assert " - " in lines[2]  # "#EXTINF:30,Artist - Title"
    bad = beet(beets_home, "emoalign", "--journey", "qwzx", "sad")
    assert bad.returncode != 0 and "no feeling" in bad.stderr
    missing = beet(beets_home, "emoalign", "--journey", "999", "sad")
    assert missing.returncode != 0 and "No analysed item with id 999" in missing.stderr
