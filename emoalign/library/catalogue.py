"""The songs a visitor can browse: the shipped reference corpus (real songs with their
datasets' labels), the bundled examples and the visitor's own songs, as points with an
embedding, a place on the precomputed map, valence/arousal and a known label.

`reference_catalogue` builds the always-there part; `Catalogue.extend` adds any list of songs
(the session's, or an indexed library's: `library_songs`) placed on the stored map without
refitting it.
`search` and `similar` rank every point by cosine, best first (`rank` any score), each song
once.
"""

from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..answer.results import ranked
from ..answer.valence_arousal import QUADRANT_WORDS
from ..paths import ASSETS
from .atlas import SongMap, place
from .projection import pca_2d

DATASET_TITLES = {"emotify": "Emotify", "4q": "4Q", "vgmidi": "VGMIDI",
                  "memomusic": "MemoMusic"}
SOURCES = {"reference": "reference song", "example": "bundled example", "yours": "your song",
           "library": "your library"}
# reference id -> {name, dataset, label, artist, title}: metadata strings from the datasets
# (tools/reference_names.py); the reference songs' audio is not shipped
NAMES_PATH = ASSETS / "reference" / "names.json"


@lru_cache(maxsize=1)
def reference_names(path: Path = NAMES_PATH) -> dict[str, dict]:
    """The reference songs' readable names and metadata ({} when the file is absent)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def reference_name(song_id: str, title: str) -> str:
    """ "Charlie Poole - Bulldog Down in Sunny Tennessee (4Q, Q3 sad, low)"; without its
    metadata, the dataset title and the id ("4Q MT0000004637")."""
    entry = reference_names().get(str(song_id))
    return entry["name"] if entry else f"{title} {str(song_id).split('/', 1)[-1]}"


@dataclasses.dataclass
class Catalogue:
    names: list[str]
    sources: list[str]  # "reference", "example", "yours" (or another name for a library)
    datasets: list[str]  # collection title; "" for songs outside the reference
    known: list[str]  # a known label (the dataset's quadrant words), "unknown" without one
    embeddings: np.ndarray  # (N, 384) unit song embeddings
    xy: np.ndarray  # (N, 2) map coordinates
    valence: np.ndarray  # (N,) predicted, [-1, 1]
    arousal: np.ndarray  # (N,)
    n_anchor: int = 0  # the first n_anchor rows are the stored layout new songs are placed on

    def __len__(self) -> int:
        return len(self.names)

    def extend(self, names: list[str], embeddings: np.ndarray, sources: list[str],
               valence_arousal: np.ndarray, known: list[str] | None = None) -> Catalogue:
        """A copy with more songs, each placed among its nearest stored songs."""
        if not names:
            return self
        embeddings = np.atleast_2d(np.asarray(embeddings, np.float64))
        xy = (place(embeddings, self.embeddings[:self.n_anchor], self.xy[:self.n_anchor])
              if self.n_anchor else np.zeros((len(names), 2)))
        va = np.asarray(valence_arousal, np.float64).reshape(-1, 2)
        return dataclasses.replace(
            self, names=self.names + list(names), sources=self.sources + list(sources),
            datasets=self.datasets + [""] * len(names),
            known=self.known + list(known or ["unknown"] * len(names)),
            embeddings=np.vstack([self.embeddings, embeddings]), xy=np.vstack([self.xy, xy]),
            valence=np.concatenate([self.valence, va[:, 0]]),
            arousal=np.concatenate([self.arousal, va[:, 1]]))

    def search(self, query: np.ndarray, top: int | None = None) -> list[tuple[int, float]]:
        """(row, cosine) of the songs nearest a unit query vector, best first."""
        return self.rank(self.embeddings @ np.asarray(query, np.float64), top)

    def rank(self, scores: np.ndarray, top: int | None = None, leave_out: int | None = None
             ) -> list[tuple[int, float]]:
        """(row, score) best first, each song once: a row whose embedding equals one already
        listed (an example that is also a reference song) is skipped; `leave_out` is not
        listed (its copies elsewhere, e.g. in your library, are)."""
        return ranked(scores, self.embeddings, leave_out, top)

    def similar(self, row: int, top: int | None = None) -> list[tuple[int, float]]:
        """(row, cosine) of the songs most like song `row` (itself left out), best first, each
        song once."""
        return self.rank(self.embeddings @ self.embeddings[row], top, leave_out=row)


def reference_catalogue(reference, embeddings: np.ndarray, song_map: SongMap | None
                        ) -> Catalogue:
    """The reference corpus as a catalogue: `embeddings` (N, 384) under the adapter in use,
    coordinates and valence/arousal from the stored map (PCA and no values without one)."""
    corpus = reference.corpus
    titles = [DATASET_TITLES.get(d, d) for d in corpus.datasets]
    names = [reference_name(i, t) for t, i in zip(titles, corpus.ids)]
    quadrant = corpus.quadrant if corpus.quadrant is not None else np.zeros(len(corpus), int)
    known = [QUADRANT_WORDS.get(int(q), "unknown") for q in quadrant]
    if song_map is not None and len(song_map.xy) == len(corpus):
        xy, valence, arousal = song_map.xy, song_map.valence, song_map.arousal
    else:
        xy, valence, arousal = pca_2d(embeddings), *np.full((2, len(corpus)), np.nan)
    return Catalogue(names, ["reference"] * len(names), titles, known,
                     np.asarray(embeddings, np.float64), np.asarray(xy, np.float64),
                     np.asarray(valence, np.float64), np.asarray(arousal, np.float64),
                     n_anchor=len(names))


def library_songs(index) -> dict:
    """An indexed library's songs (a `SongIndex` from `Library.index`) as `Catalogue.extend`
    arguments: named by their paths relative to the indexed folder (file names only, should
    a path be absolute), with the valence/arousal predicted when they were indexed."""
    names = [key if not key.startswith("/") else key.rsplit("/", 1)[-1] for key in index.keys]
    va = np.array([[np.nan if info.get(k) is None else info[k] for k in ("valence", "arousal")]
                   for info in index.info], np.float64).reshape(-1, 2)
    return dict(names=names, embeddings=np.asarray(index.embeddings, np.float64),
                sources=["library"] * len(names), valence_arousal=va)
