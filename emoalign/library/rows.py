"""What one song of a library is: the SQLite schema, with its version and migrations, and
`SongRow`, the record indexing writes and the store returns (library.py is the store).

Per song (table `songs`): the SHA-256 of the file's bytes (unique: identical files are one
song), the path relative to the indexed root, the duration, the song embedding (384 float32)
and the per-segment embeddings, starts and silence flags, valence/arousal of the song and of
each segment, the calibrated scores and raw cosines of every built-in label (the order is in
`meta.score_labels`), and the encoder and adapter SHA-256 that produced them. Table `paths`
records every file seen with a song's content (duplicates); `errors` holds files that failed,
with a reason written for users.

The schema version is explicit (`SCHEMA_VERSION`); `MIGRATIONS[v]` upgrades a library of
version v to v + 1 when it is opened. Version 1 had no valence/arousal and no scores; its
rows are kept and re-analysed by the next `emoalign index` (they are not `complete`).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field

import numpy as np

from .search import EMBEDDING_DIM

SCHEMA_VERSION = 2

SONG_COLUMNS = ("hash", "path", "duration_s", "encoder", "adapter_sha256", "embedding",
                 "segment_starts", "segment_silent", "segment_embeddings", "valence", "arousal",
                 "segment_va", "scores", "raw", "calibrated", "indexed_at")

SCHEMA_V1 = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE songs(
  id INTEGER PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,          -- sha256 of the file's bytes
  path TEXT NOT NULL,                 -- first path seen, relative to the indexed root
  duration_s REAL NOT NULL,
  encoder TEXT NOT NULL,
  adapter_sha256 TEXT NOT NULL,
  embedding BLOB NOT NULL,            -- 384 float32, unit norm
  segment_starts BLOB NOT NULL,       -- S float32 seconds
  segment_silent BLOB NOT NULL,       -- S uint8
  segment_embeddings BLOB NOT NULL,   -- S x 384 float32
  indexed_at TEXT NOT NULL);
CREATE TABLE paths(path TEXT PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE errors(path TEXT PRIMARY KEY, reason TEXT NOT NULL, at TEXT NOT NULL);
"""

_V1_TO_V2 = """
ALTER TABLE songs ADD COLUMN valence REAL;
ALTER TABLE songs ADD COLUMN arousal REAL;
ALTER TABLE songs ADD COLUMN segment_va BLOB;    -- S x 2 float32
ALTER TABLE songs ADD COLUMN scores BLOB;        -- L float32 calibrated, order: meta.score_labels
ALTER TABLE songs ADD COLUMN raw BLOB;           -- L float32 cosines
ALTER TABLE songs ADD COLUMN calibrated INTEGER;
"""

MIGRATIONS = {1: _V1_TO_V2}  # version v -> the SQL that makes it v + 1
_BLOBS = {"embedding", "segment_starts", "segment_silent", "segment_embeddings", "segment_va",
          "scores", "raw"}


def _blob(array: np.ndarray, dtype) -> bytes:
    return np.ascontiguousarray(array, dtype=dtype).tobytes()


@dataclass
class SongRow:
    """One song of the library, as indexing produces it and the store returns it."""
    hash: str
    path: str  # relative to the indexed root, '/'-separated
    duration_s: float
    embedding: np.ndarray  # (384,) float32 unit norm
    segment_starts: np.ndarray  # (S,) seconds
    segment_silent: np.ndarray  # (S,) bool
    segment_embeddings: np.ndarray  # (S, 384)
    valence: float | None
    arousal: float | None
    segment_va: np.ndarray | None  # (S, 2)
    scores: np.ndarray | None  # (L,) calibrated scores of `score_labels`
    raw: np.ndarray | None  # (L,) cosines
    calibrated: bool
    encoder: str
    adapter_sha256: str
    id: int | None = None
    paths: list[str] = field(default_factory=list)  # every path seen with this content

    def to_json(self) -> str:
        """The record as one JSON string (bytes as base64): how Ray actors hand rows over."""
        return json.dumps({k: base64.b64encode(v).decode() if isinstance(v, bytes) else v
                           for k, v in self.to_record().items()})

    @classmethod
    def from_json(cls, text: str) -> "SongRow":
        record = json.loads(text)
        return cls.from_record({k: base64.b64decode(v) if k in _BLOBS and v is not None else v
                                for k, v in record.items()})

    def to_record(self) -> dict:
        """Plain values (numbers, strings, bytes): a database row, or a Ray Data row."""
        s = len(self.segment_starts)
        return {"hash": self.hash, "path": self.path, "duration_s": float(self.duration_s),
                "encoder": self.encoder, "adapter_sha256": self.adapter_sha256,
                "embedding": _blob(self.embedding, np.float32),
                "segment_starts": _blob(self.segment_starts, np.float32),
                "segment_silent": _blob(self.segment_silent, np.uint8),
                "segment_embeddings": _blob(self.segment_embeddings, np.float32),
                "valence": self.valence, "arousal": self.arousal,
                "segment_va": None if self.segment_va is None else _blob(
                    np.reshape(self.segment_va, (s, 2)), np.float32),
                "scores": None if self.scores is None else _blob(self.scores, np.float32),
                "raw": None if self.raw is None else _blob(self.raw, np.float32),
                "calibrated": int(bool(self.calibrated)),
                "indexed_at": time.strftime("%Y-%m-%dT%H:%M:%S")}

    @classmethod
    def from_record(cls, r: dict) -> "SongRow":
        vec = lambda k, dtype=np.float32: (None if r.get(k) is None  # noqa: E731
                                           else np.frombuffer(r[k], dtype).copy())
        starts = vec("segment_starts")
        va = vec("segment_va")
        return cls(r["hash"], r["path"], float(r["duration_s"]), vec("embedding"), starts,
                   vec("segment_silent", np.uint8).astype(bool),
                   vec("segment_embeddings").reshape(len(starts), EMBEDDING_DIM),
                   r.get("valence"), r.get("arousal"),
                   None if va is None else va.reshape(len(starts), 2), vec("scores"),
                   vec("raw"), bool(r.get("calibrated")), r["encoder"], r["adapter_sha256"],
                   r.get("id"))
