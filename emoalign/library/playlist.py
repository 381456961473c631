"""What a journey needs around the planning (journey.py): endpoints from what users type,
words placed on the valence/arousal plane, a pool from an indexed library, songs located on
disk, and the extended M3U8 playlist.

An endpoint is one of: a point "valence,arousal" ("-0.6,-0.4", each in [-1, 1]); a song of
the pool (found by the caller's `find_song`: a library id, path or hash, a session name...);
or emotion words ("sad", "calm, hopeful"), placed on the plane by the pipeline
(`pipe.word_positions`: the mean of their places, answer/plane.py). Words too far from every
built-in emotion word are refused (they have no place to go).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .journey import Endpoint, Journey, JourneyError, Pool

MEANING_SIMILARITY = 0.45  # a word this close (cosine) to some built-in label means something
MEANING_LABELS = "all"  # the built-in vocabulary a word is compared with
AUDIO_SUFFIX = re.compile(r"\.(wav|flac|ogg|opus|mp3|m4a|aac|aiff?|wma|mp4)$", re.I)
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
POINT = re.compile(rf"^\s*({_NUMBER})\s*[,;]\s*({_NUMBER})\s*$")
HASH = re.compile(r"^[0-9a-fA-F]{8,64}$")  # a song's SHA-256, or a prefix of it


def parse_point(text: str) -> tuple[float, float] | None:
    """'-0.6,-0.4' -> (-0.6, -0.4); None when `text` is not a point; JourneyError when it is
    one off the plane."""
    match = POINT.match(text)
    if not match:
        return None
    v, a = float(match[1]), float(match[2])
    if not (-1 <= v <= 1 and -1 <= a <= 1):
        raise JourneyError(f"{text.strip()} is off the valence/arousal plane: both values lie "
                           f"in [-1, 1], e.g. -0.6,-0.4 (sad) or 0.5,0.6 (happy).")
    return v, a


def endpoint(text: str, pool: Pool, find_song: Callable[[str], int | None],
             pipeline: Callable[[], object]) -> Endpoint:
    """What the user typed as FROM or TO -> an Endpoint: a point, a song of `pool` (row from
    `find_song(text)`, or None), else words (`pipeline()` gives the pipeline, loaded only for
    words)."""
    from ..text.labels import parse_words
    text = (text or "").strip()
    if not text:
        raise JourneyError("Say where the journey starts and ends: emotion words ('sad'), a "
                           "song, or a valence,arousal point ('-0.6,-0.4').")
    point = parse_point(text)
    if point is not None:
        return Endpoint(text, point, None, "point")
    row = find_song(text)
    if row is not None:
        return Endpoint(pool.names[row], tuple(map(float, pool.va[row])), row, "song")
    if text.isdigit() or HASH.match(text):
        raise JourneyError(f"No song with the id or hash {text!r} in the library (emoalign "
                           f"export lists them).")
    if AUDIO_SUFFIX.search(text) or "/" in text or "\\" in text:
        raise JourneyError(f"No song {Path(text).name!r} in the library; name a song by its "
                           f"path, id or hash (emoalign export lists them).")
    words = parse_words(text)
    return Endpoint(", ".join(words), place_words(pipeline(), words), None, "words")


def check_meaning(text_encoder, words: list[str]) -> None:
    """Raise JourneyError for a word far from every built-in emotion word (no meaning)."""
    from ..text.labels import load_label_set
    labels = list(load_label_set(MEANING_LABELS).labels)
    known = text_encoder.embed(labels, described=False)
    best = (text_encoder.embed(words, described=False) @ known.T).max(axis=1)
    lost = [w for w, b in zip(words, best) if b < MEANING_SIMILARITY]
    if lost:
        raise JourneyError(f"{', '.join(repr(w) for w in lost)}: no feeling to place on the "
                           f"valence/arousal plane (too far from every emotion word EmoAlign "
                           f"knows). Try words like 'sad', 'calm, hopeful' or 'furious'.")


def place_words(pipe, words: list[str]) -> tuple[float, float]:
    """Valence/arousal of emotion words: the mean of their places on the plane (answer/plane.py)."""
    check_meaning(pipe.text, words)
    v, a = np.asarray(pipe.word_positions(list(words)), np.float64).reshape(-1, 2).mean(0)
    return float(v), float(a)


def library_pool(index) -> tuple[Pool, list[int], int]:
    """An indexed library (`Library.index()`, a SongIndex) as a journey pool: named by their
    paths, the album being the song's folder (songs at the top of the indexed folder have
    none). Songs indexed without valence/arousal (an older library) are left out. Returns the
    pool, the library id of each pool row, and how many songs were left out."""
    keep = [i for i, info in enumerate(index.info)
            if info.get("valence") is not None and info.get("arousal") is not None]
    names = [index.keys[i] for i in keep]
    va = np.array([[index.info[i]["valence"], index.info[i]["arousal"]] for i in keep],
                  np.float64).reshape(-1, 2)
    pool = Pool(names, va, index.embeddings[keep],
                [index.info[i]["duration_s"] for i in keep], [album_of(n) for n in names])
    return pool, [index.info[i]["id"] for i in keep], len(index) - len(keep)


def album_of(path: str) -> str | None:
    """The album folder of a song's path: its parent folder; None at the top."""
    parent = path.replace("\\", "/").rsplit("/", 1)
    return parent[0] if len(parent) == 2 and parent[0] else None


def locate(path: str, roots: list[Path]) -> Path | None:
    """The file of a library path: itself when absolute, else under the first root that has
    it; None when it is gone."""
    candidates = [Path(path)] if Path(path).is_absolute() else [Path(r) / path for r in roots]
    return next((c for c in candidates if c.is_file()), None)


def m3u8_text(entries: list[tuple[str, str, float]], title: str | None = None) -> str:
    """Extended M3U: '#EXTM3U', an optional '#PLAYLIST:' title, then per entry '#EXTINF:<whole
    seconds>,<name>' and its location. `entries`: (location, name, duration_s)."""
    clean = lambda text: " ".join(str(text).split())  # noqa: E731 - no line breaks inside
    lines = ["#EXTM3U"] + ([f"#PLAYLIST:{clean(title)}"] if title else [])
    for location, name, seconds in entries:
        lines += [f"#EXTINF:{max(1, round(float(seconds)))},{clean(name)}", clean(location)]
    return "\n".join(lines) + "\n"


def write_m3u8(out: str | Path, journey: Journey, files: list[Path], names: list[str],
               title: str | None = None) -> Path:
    """Write `journey` as an M3U8 file (UTF-8) at `out`: each song's file (`files`, in play
    order) relative to the playlist's folder, with its duration and `names`."""
    out = Path(out).expanduser()
    if out.suffix.lower() not in (".m3u8", ".m3u"):
        raise JourneyError(f"{out.name}: the playlist's name must end in .m3u8.")
    folder = os.path.abspath(out.parent)  # symlinks kept: the user's folders, not their targets
    if not Path(folder).is_dir():
        raise JourneyError(f"There is no folder for {out.name}; create it first.")
    locations = []
    for file in files:
        try:
            locations.append(Path(os.path.relpath(os.path.abspath(file), folder)).as_posix())
        except ValueError:  # another drive (Windows): no relative path exists
            locations.append(Path(os.path.abspath(file)).as_posix())
    text = m3u8_text(list(zip(locations, names, journey.durations)), title)
    try:
        out.write_text(text, encoding="utf-8", newline="\n")
    except OSError as error:
        raise JourneyError(f"Cannot write {out.name}: {error.strerror or error}.") from None
    return out


def title_of(journey: Journey) -> str:
    return f"EmoAlign journey: {journey.start.label} to {journey.end.label}"
