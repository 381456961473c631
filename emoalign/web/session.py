"""What one visitor (a browser tab, a gradio_client, a CLI run) has done: its model choice and
its analysed songs, newest last, bounded; and the downloads written for it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from ..answer.results import Prediction, SongAnalysis
from .models import ModelChoice

LIBRARY_LIMIT = 100  # songs kept per session (the app reads EMOALIGN_LIBRARY_LIMIT)


class NoSong(ValueError):
    """The song asked for is not in the session; the message is written for the user."""


@dataclasses.dataclass
class Entry:
    song: SongAnalysis
    digest: str  # SHA-256 of the file's content (digest.file_digest)
    source: str  # "yours" or "example"
    emotions: tuple[str, ...] = ()  # known (human) labels, for bundled examples
    file: str | None = None  # the uploaded file, while the server keeps it (journeys play it)


@dataclasses.dataclass
class Session:
    """A model choice and the songs analysed with it (name -> entry, newest last)."""
    model: ModelChoice = dataclasses.field(default_factory=ModelChoice)
    songs: dict[str, Entry] = dataclasses.field(default_factory=dict)
    current: str | None = None
    dropped: tuple[str, ...] = ()  # songs the last `with_song` removed (library limit)
    limit: int = LIBRARY_LIMIT

    def song(self, name: str | None = None) -> SongAnalysis:
        name = name or self.current
        if not self.songs:
            raise NoSong("Analyse a song first (tab 'Song').")
        if name not in self.songs:
            raise NoSong(f"No song named {name!r} in this session; "
                         f"yours are: {', '.join(self.songs)}.")
        return self.songs[name].song

    def with_song(self, entry: Entry) -> Session:
        """A copy holding `entry` as the current song (the newest `limit` are kept)."""
        songs = {n: e for n, e in self.songs.items() if e.digest != entry.digest
                 or e.song.name != entry.song.name}
        name = unique_name(entry.song.name, songs)
        songs[name] = entry
        dropped = []
        while len(songs) > self.limit:
            dropped.append(next(iter(songs)))
            songs.pop(dropped[-1])
        return dataclasses.replace(self, songs=songs, current=name, dropped=tuple(dropped))


def unique_name(name: str, taken) -> str:
    """`name`, or `name (2)`, `name (3)`, ... whichever is not in `taken`."""
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate


def write_downloads(prediction: Prediction, vocabulary_name: str, folder: Path) -> list[str]:
    """The scores as CSV and JSON (the output contract, with segments) in `folder`."""
    stem = re.sub(r"[^\w.-]+", "_", Path(prediction.song.name).stem)[:60] or "song"
    csv_path = folder / f"{stem}-{vocabulary_name}-scores.csv"
    json_path = folder / f"{stem}-{vocabulary_name}-scores.json"
    csv_path.write_text(prediction.to_csv())
    json_path.write_text(prediction.to_json(segments=True))
    return [str(csv_path), str(json_path)]
