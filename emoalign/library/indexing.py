"""Indexing a folder into a library: find the audio, hash it, skip what is indexed, decode in
a thread while the model works on the previous song, write one transaction per song.

`song_row(pipe, song, digest, path)` is the one per-song function: the local engine here and
the Ray engine (scale.py) both call it, so both write the same rows. What a row holds is
described in library.py.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..audio.decoding import AUDIO_SUFFIXES
from ..digest import file_digest
from .store import Library, SongRow

AUDIO_EXTENSIONS = frozenset(f".{suffix}" for suffix in AUDIO_SUFFIXES)
SCORED_LABELS = "all"  # the built-in vocabulary (union of all) whose scores each row stores
PREFETCH = 2  # decoded songs waiting for the model; bounds memory


class IndexingError(ValueError):
    """A folder that cannot be indexed (missing, or no audio in it); message for users."""


@dataclass
class IndexReport:
    present: list[str] = field(default_factory=list)  # every audio file found, relative to the root
    added: int = 0  # songs analysed and written
    skipped: int = 0  # already indexed (same content, same encoder and adapter)
    duplicates: int = 0  # files whose content another file of this run already brought
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    seconds: float = 0.0
    removed: int | None = None  # songs forgotten by --prune (None: not pruned)

    @property
    def found(self) -> int:
        return len(self.present)

    def summary(self) -> str:
        rate = f", {self.added / self.seconds * 3600:,.0f} songs/hour" if self.added and self.seconds else ""
        return (f"{self.found} audio files: {self.added} indexed, {self.skipped} already in the "
                f"library, {self.duplicates} duplicates, {len(self.failed)} failed "
                f"({self.seconds:.1f} s{rate})."
                + ("" if self.removed is None else f" Removed {self.removed} song"
                   f"{'' if self.removed == 1 else 's'} no longer in the folder."))


def scored_labels() -> list[str]:
    from ..text.labels import load_label_set
    return list(load_label_set(SCORED_LABELS).labels)


def find_audio(root: str | Path) -> list[Path]:
    """Audio files under `root` (recursive, by extension, hidden folders skipped), sorted.
    Symlinked files are followed, symlinked folders are not (no loops)."""
    root = Path(root)
    if not root.is_dir():
        raise IndexingError(f"{root.name or root} is not a folder.")
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found += [Path(folder) / f for f in files
                  if Path(f).suffix.lower() in AUDIO_EXTENSIONS and not f.startswith(".")]
    return sorted(found)


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def song_row(pipe, song, digest: str, path: str) -> SongRow:
    """What the library stores for one analysed song (pipe: an EmotionPipeline)."""
    scores = pipe.score(song, scored_labels())
    va = pipe.valence_arousal(song)
    return SongRow(
        hash=digest, path=path, duration_s=float(song.duration_s),
        embedding=song.song_embedding.astype(np.float32), segment_starts=song.segment_starts,
        segment_silent=song.silent, segment_embeddings=song.segment_embeddings,
        valence=float(va.valence), arousal=float(va.arousal), segment_va=va.segments,
        scores=scores.song_scores, raw=scores.song_raw, calibrated=bool(scores.calibrated),
        encoder=pipe.encoder.name, adapter_sha256=pipe.adapter_card["sha256"])


def failure_reason(error: Exception) -> str:
    """A message for users: AudioError's own text; other errors by kind, without paths."""
    from ..safety import scrub_paths
    if isinstance(error, ValueError):  # AudioError among them
        return scrub_paths(str(error))
    return f"{type(error).__name__}: {scrub_paths(str(error))}"


def index_folder(root: str | Path, library: Library, pipe, progress: bool = True,
                 files: list[Path] | None = None) -> IndexReport:
    """Index every audio file under `root` into `library` with `pipe` (an EmotionPipeline).

    A thread hashes and decodes ahead (PREFETCH songs) while this thread runs the model and
    writes. Songs whose hash is already indexed with this encoder and adapter are skipped, so
    a rerun (also after kill -9) only does what is missing. A file with the content of a song
    indexed before is recorded as one more path of that song. Failures go to the errors table.
    `files`: find_audio(root) when the caller has it already (a big folder is walked once).
    """
    root = Path(root)
    files = find_audio(root) if files is None else files
    if not files:
        raise IndexingError(f"No audio files in {root.name or root} (looked for "
                            f"{', '.join(sorted(AUDIO_EXTENSIONS))}, in subfolders too).")
    report = IndexReport(present=[relative(f, root) for f in files])
    library.add_root(root)  # where the relative paths start (playlists find the files)
    start = time.perf_counter()
    known = library.complete_hashes(pipe.encoder.name, pipe.adapter_card["sha256"])
    labels = scored_labels()
    items: queue.Queue = queue.Queue(maxsize=PREFETCH)
    stop = threading.Event()
    reader = threading.Thread(target=_decode_ahead, daemon=True,
                              args=(files, root, known, pipe, items, stop))
    reader.start()
    bar = _progress_bar(len(files), progress)
    try:
        while (item := items.get()) is not None:
            kind, path, digest, payload = item
            if kind == "audio":
                try:
                    song = pipe.analyze((pipe.encoder.sample_rate, payload), name=path)
                    library.add(song_row(pipe, song, digest, path), labels)
                    report.added += 1
                except (ValueError, RuntimeError) as error:  # AudioError is a ValueError
                    kind, payload = "error", failure_reason(error)
            if kind == "known":
                library.add_path(path, digest)
                report.skipped += payload == "indexed"
                report.duplicates += payload == "duplicate"
            elif kind == "error":
                library.add_error(path, payload)
                report.failed.append((path, payload))
            bar.update(1)
    finally:
        stop.set()
        bar.close()
    report.seconds = time.perf_counter() - start
    return report


def _decode_ahead(files: list[Path], root: Path, known: set[str], pipe, items: queue.Queue,
                  stop: threading.Event) -> None:
    """Producer: ("known", path, hash, "indexed"|"duplicate"), ("audio", path, hash, samples)
    or ("error", path, hash, reason) per file, then None."""
    from ..audio.load import load_audio
    seen = set(known)
    try:
        for file in files:
            if stop.is_set():
                return
            path = relative(file, root)
            try:
                digest = file_digest(file)
            except OSError as error:
                _put(items, ("error", path, "", f"Cannot read the file ({error.strerror})."), stop)
                continue
            if digest in seen:
                _put(items, ("known", path, digest,
                             "indexed" if digest in known else "duplicate"), stop)
                continue
            seen.add(digest)
            try:
                samples = load_audio(file, pipe.encoder.sample_rate, max_seconds=pipe.max_seconds,
                                     name=path)
                _put(items, ("audio", path, digest, samples), stop)
            except Exception as error:  # noqa: BLE001 - every failure is recorded, none stops the run
                _put(items, ("error", path, digest, failure_reason(error)), stop)
    finally:
        _put(items, None, stop)


def _put(items: queue.Queue, item, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            items.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


def _progress_bar(total: int, show: bool):
    from tqdm import tqdm
    return tqdm(total=total, unit="song", desc="Indexing", disable=not show, dynamic_ncols=True,
                smoothing=0.1)
