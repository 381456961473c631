"""The persistent music library: one SQLite file per library, the durable truth, and an
in-memory matrix of song embeddings for search.

Why SQLite (stdlib `sqlite3`, WAL journal) rather than LanceDB: no new dependency and no
server; one transaction per song, so a `kill -9` mid-run leaves whole rows or none; and search
does not need a vector index at library scale. At 100k songs a brute-force float32 matmul
over the (N, 384) matrix loaded once takes a few ms, less than embedding the query words
(`bench/bench_library.py` prints the figures). LanceDB appends one fragment per commit, so the
per-song commits that make indexing resumable would need compaction.

What one song holds, the schema and its migrations: library_rows.py.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from pathlib import Path

import numpy as np

from ..text.labels import label_meanings
from .rows import MIGRATIONS, SCHEMA_V1, SCHEMA_VERSION, SONG_COLUMNS, SongRow
from .search import EMBEDDING_DIM, SongIndex

DB_ENV = "EMOALIGN_LIBRARY"  # overrides the default library file
DEFAULT_DB = "~/.emoalign/library.db"
BUSY_TIMEOUT_S = 30.0  # a second writer waits this long for the lock


class LibraryError(Exception):
    """A library that cannot be opened or written; the message is for users (no full paths)."""


def default_db_path() -> Path:
    """$EMOALIGN_LIBRARY, else ~/.emoalign/library.db."""
    return Path(os.environ.get(DB_ENV) or DEFAULT_DB).expanduser()


class Library:
    """A library file. `Library(path)` creates it (and its folder) when missing and migrates
    an older schema; `Library(path, create=False)` raises LibraryError when it is missing.

    >>> with Library("~/.emoalign/library.db") as lib:
    ...     lib.add(row); lib.count(); lib.index().search(vector)
    """

    def __init__(self, path: str | Path | None = None, create: bool = True):
        self.path = Path(path).expanduser() if path else default_db_path()
        self.name = self.path.name
        if not create and not self.path.is_file():
            raise LibraryError(f"There is no library {self.name} yet: run `emoalign index FOLDER`.")
        self.db = self._connect(create)
        self.score_labels: list[str] = json.loads(self._meta("score_labels") or "[]")
        self.score_meanings = self._meta("score_meanings")  # see scores_current

    def _connect(self, create: bool) -> sqlite3.Connection:
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")  # readers never block the indexer
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: whole transactions survive
            version = self._version(db)
            if version == 0:
                self._create(db)
            elif version > SCHEMA_VERSION:
                raise LibraryError(f"{self.name} was written by a newer EmoAlign (schema "
                                   f"{version}; this one reads up to {SCHEMA_VERSION}).")
            else:
                self._migrate(db, version)
            return db
        except sqlite3.DatabaseError as error:
            raise LibraryError(_db_message(self.name, error)) from None
        except OSError as error:
            raise LibraryError(f"Cannot create the library {self.name}: "
                               f"{error.strerror or error}.") from None

    @staticmethod
    def _version(db: sqlite3.Connection) -> int:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone():
            if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise LibraryError("The file is an SQLite database but not an EmoAlign library.")
            return 0
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    def _create(db: sqlite3.Connection) -> None:
        with _transaction(db):
            _run_script(db, SCHEMA_V1)
            db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        Library._migrate(db, 1)

    @staticmethod
    def _migrate(db: sqlite3.Connection, version: int) -> None:
        """Apply MIGRATIONS[version], MIGRATIONS[version + 1], ... each in one transaction."""
        while version < SCHEMA_VERSION:
            with _transaction(db):
                _run_script(db, MIGRATIONS[version])
                version += 1
                db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- writing: one transaction per song ---------------------------------------------

    def add(self, row: SongRow, score_labels: list[str]) -> int:
        """Insert or replace the song with `row.hash` (keeping its id) and record its path;
        one transaction. Returns the song's id."""
        self._check_labels(score_labels, row)
        record = row.to_record()
        names = ", ".join(SONG_COLUMNS)
        update = ", ".join(f"{c}=excluded.{c}" for c in SONG_COLUMNS if c not in ("hash", "path"))
        with self._write():
            self.db.execute(f"INSERT INTO songs({names}) VALUES ({', '.join('?' * len(SONG_COLUMNS))}) "
                            f"ON CONFLICT(hash) DO UPDATE SET {update}",
                            [record[c] for c in SONG_COLUMNS])
            self._record_path(row.path, row.hash)
            return self.db.execute("SELECT id FROM songs WHERE hash=?", (row.hash,)).fetchone()[0]

    def _check_labels(self, score_labels: list[str], row: SongRow) -> None:
        if row.scores is not None and len(row.scores) != len(score_labels):
            raise ValueError(f"{len(row.scores)} scores for {len(score_labels)} labels")
        if score_labels != self.score_labels:
            if self.score_labels and self.db.execute(
                    "SELECT 1 FROM songs WHERE scores IS NOT NULL").fetchone():
                raise LibraryError(f"{self.name} holds scores of other labels; index into a new "
                                   f"library.")
            with self._write():
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('score_labels', ?)",
                                (json.dumps(score_labels),))
            self.score_labels = list(score_labels)
        meanings = label_meanings(score_labels)
        if meanings != self.score_meanings:  # a new library, or labels that now mean more
            scored = self.db.execute("SELECT 1 FROM songs WHERE scores IS NOT NULL").fetchone()
            self.score_meanings = "mixed" if scored else meanings
            with self._write():
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('score_meanings', ?)",
                                (self.score_meanings,))

    @property
    def scores_current(self) -> bool:
        """Whether every stored score was made with today's label meanings (the describing
        words of labels.label_descriptions); if not, score the stored embeddings instead."""
        return self.score_meanings == label_meanings(self.score_labels)

    def add_root(self, folder: str | Path) -> None:
        """Remember a folder indexed into this library (absolute): where its relative paths
        start (playlists locate the files with it)."""
        folder = os.path.abspath(Path(folder).expanduser())
        if folder not in self.roots():
            with self._write():
                self.db.execute("INSERT OR REPLACE INTO meta VALUES ('roots', ?)",
                                (json.dumps(self.roots() + [folder]),))

    def roots(self) -> list[str]:
        """The folders indexed into this library, oldest first ([] for one indexed before
        they were recorded)."""
        return json.loads(self._meta("roots") or "[]")

    def add_path(self, path: str, digest: str) -> None:
        """Record another file with the content of an indexed song (a duplicate)."""
        with self._write():
            self._record_path(path, digest)

    def _record_path(self, path: str, digest: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO paths VALUES (?, ?)", (path, digest))
        self.db.execute("DELETE FROM errors WHERE path=?", (path,))

    def add_error(self, path: str, reason: str) -> None:
        with self._write():
            self.db.execute("INSERT OR REPLACE INTO errors VALUES (?, ?, ?)",
                            (path, reason, time.strftime("%Y-%m-%dT%H:%M:%S")))

    def prune(self, present: list[str]) -> int:
        """Forget every path not in `present` (the files an index run found), then the songs
        and errors left without a path; one transaction. A song that lost its first path but
        keeps a duplicate is named by that. Returns the number of songs removed."""
        with self._write():
            self.db.execute("CREATE TEMP TABLE present(path TEXT PRIMARY KEY)")  # rolled back too
            self.db.executemany("INSERT OR IGNORE INTO present VALUES (?)", ((p,) for p in present))
            self.db.execute("DELETE FROM paths WHERE path NOT IN (SELECT path FROM present)")
            self.db.execute("DELETE FROM errors WHERE path NOT IN (SELECT path FROM present)")
            removed = self.db.execute(
                "DELETE FROM songs WHERE hash NOT IN (SELECT hash FROM paths)").rowcount
            self.db.execute("UPDATE songs SET path=(SELECT min(path) FROM paths WHERE "
                            "paths.hash=songs.hash) WHERE path NOT IN (SELECT path FROM present)")
            self.db.execute("DROP TABLE present")
        return removed

    def _write(self):
        return _transaction(self.db, self.name)

    # ---- reading -----------------------------------------------------------------------

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM songs").fetchone()[0]

    def complete_hashes(self, encoder: str, adapter_sha256: str) -> set[str]:
        """Hashes of songs indexed with this encoder and adapter and every current column
        filled: what a rerun skips."""
        return {h for (h,) in self.db.execute(
            "SELECT hash FROM songs WHERE encoder=? AND adapter_sha256=? AND scores IS NOT NULL",
            (encoder, adapter_sha256))}

    def errors(self) -> list[tuple[str, str]]:
        return self.db.execute("SELECT path, reason FROM errors ORDER BY path").fetchall()

    def songs(self) -> list[SongRow]:
        """Every song, with all its paths, in id order."""
        others: dict[str, list[str]] = {}
        for path, digest in self.db.execute("SELECT path, hash FROM paths ORDER BY path"):
            others.setdefault(digest, []).append(path)
        cursor = self.db.execute(f"SELECT id, {', '.join(SONG_COLUMNS)} FROM songs ORDER BY id")
        rows = []
        for values in cursor:
            row = SongRow.from_record(dict(zip(("id", *SONG_COLUMNS), values)))
            row.paths = others.get(row.hash, [row.path])
            rows.append(row)
        return rows

    def song(self, key: str) -> SongRow | None:
        """A song by id ("12"), path (any of its paths) or hash (a prefix of 8+ hex digits)."""
        if key.isdigit():
            where, arg = "id=?", int(key)
        else:
            found = self.db.execute("SELECT hash FROM paths WHERE path=?", (key,)).fetchone()
            if found:
                where, arg = "hash=?", found[0]
            elif len(key) >= 8 and all(c in "0123456789abcdef" for c in key.lower()):
                where, arg = "hash LIKE ?", key.lower() + "%"
            else:
                return None
        values = self.db.execute(f"SELECT id, {', '.join(SONG_COLUMNS)} FROM songs "
                                 f"WHERE {where} LIMIT 1", (arg,)).fetchone()
        return None if values is None else SongRow.from_record(dict(zip(("id", *SONG_COLUMNS),
                                                                        values)))

    def index(self, encoder: str | None = None, adapter_sha256: str | None = None) -> SongIndex:
        """Every song's embedding as one (N, 384) float32 matrix, keyed by path; only the songs
        of `encoder` and `adapter_sha256` when given (another model embeds elsewhere)."""
        pairs = [(c, v) for c, v in (("encoder", encoder), ("adapter_sha256", adapter_sha256))
                 if v]
        where = " WHERE " + " AND ".join(f"{c}=?" for c, _ in pairs) if pairs else ""
        rows = self.db.execute(f"SELECT id, path, duration_s, valence, arousal, embedding "
                               f"FROM songs{where} ORDER BY id", [v for _, v in pairs]).fetchall()
        matrix = np.frombuffer(b"".join(r[5] for r in rows), np.float32).reshape(-1, EMBEDDING_DIM)
        info = [{"id": r[0], "duration_s": r[2], "valence": r[3], "arousal": r[4]} for r in rows]
        return SongIndex("library", [r[1] for r in rows], matrix, info)


def _run_script(db: sqlite3.Connection, sql: str) -> None:
    """Run `;`-separated statements inside the caller's transaction (executescript would
    commit it first)."""
    sql = re.sub(r"--[^\n]*", "", sql)
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error; sqlite errors become
    LibraryError with a message for users."""

    def __init__(self, db: sqlite3.Connection, name: str = "the library"):
        self.db, self.name = db, name

    def __enter__(self):
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as error:
            raise LibraryError(_db_message(self.name, error)) from None

    def __exit__(self, kind, error, trace):
        if kind is None:
            try:
                self.db.execute("COMMIT")
                return False
            except sqlite3.DatabaseError as commit_error:
                error = commit_error
        self.db.execute("ROLLBACK") if self.db.in_transaction else None
        if isinstance(error, sqlite3.DatabaseError):
            raise LibraryError(_db_message(self.name, error)) from None
        return False


def _db_message(name: str, error: sqlite3.DatabaseError) -> str:
    text = str(error)
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return (f"Cannot write the library {name}: its folder or file is read-only or missing. "
                f"Choose another with --db or ${DB_ENV}.")
    if "not a database" in text or "malformed" in text:
        return f"{name} is not an EmoAlign library (or it is damaged)."
    if "locked" in text:
        return f"The library {name} is busy (another emoalign is writing to it); try again."
    return f"The library {name} cannot be used: {text}."
