"""The library commands of the CLI: index, search, similar, export, journey (cli.py parses,
this runs).

Which library: `--db PATH`, else $EMOALIGN_LIBRARY, else ~/.emoalign/library.db. `search` and
`similar` search that library when it holds songs; when it is missing or empty (and with
`--reference`) they search the shipped reference corpus instead, and say so on stderr.
Heavy modules (torch, the text model) are imported only by the command that needs them.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from .library.search import SongIndex, reference_index
from .library.store import Library, default_db_path

REFERENCE_NOTE = ("searching the reference corpus ({n:,} clips of Emotify, 4Q, VGMIDI and "
                  "MemoMusic; no audio ships, only embeddings, ids and labels)")


class CommandError(Exception):
    """Bad input for a command; the message is for users."""


def db_path(args) -> Path:
    return Path(args.db).expanduser() if args.db else default_db_path()


def say(message: str) -> None:
    print(message, file=sys.stderr)


# ---- index ------------------------------------------------------------------------------

def run_index(args) -> int:
    from .library.indexing import IndexingError, find_audio
    if args.engine == "local" and not Path(args.folder).is_dir():
        raise CommandError(f"{args.folder} is not a folder.")
    library = Library(db_path(args))
    try:
        if args.engine == "ray":
            from .library.scale import index_with_ray
            if Path(args.folder).is_dir():
                library.add_root(args.folder)  # where the paths start (journeys find files)
            report = index_with_ray(args.folder, library, args.encoder, args.adapter,
                                    actors=args.actors, progress=not args.quiet)
        else:
            files = find_audio(args.folder)  # before loading the model: an empty folder is quick
            if not files:
                raise IndexingError(f"No audio files in {args.folder} (subfolders included).")
            from .library.indexing import index_folder
            from .answer.pipeline import EmotionPipeline, analysis_only
            pipe = analysis_only(EmotionPipeline(encoder=args.encoder, adapter=args.adapter))
            report = index_folder(args.folder, library, pipe, progress=not args.quiet,
                                  files=files)
        if args.prune:  # after the run: a run stopped early prunes nothing
            report.removed = library.prune(report.present)
        say(report.summary())
        for path, reason in report.failed:
            say(f"failed: {path}: {reason}")
        print(f"{library.count():,} songs in {library.name}.")
    except IndexingError as error:
        raise CommandError(str(error)) from None
    finally:
        library.close()
    return 0


# ---- search and similar -----------------------------------------------------------------

def song_index(args) -> tuple[SongIndex, Library | None]:
    """The user's library when it holds songs, else (or with --reference) the reference."""
    path = db_path(args)
    if not args.reference and path.is_file():
        library = Library(path, create=False)
        if library.count():
            return library.index(), library
        say(f"The library {library.name} is empty: {REFERENCE_NOTE.format(n=len(reference()))}. "
            f"Add your music with `emoalign index FOLDER`.")
        library.close()
    elif not args.reference:
        say(f"No library yet ({path.name}): {REFERENCE_NOTE.format(n=len(reference()))}. "
            f"Add your music with `emoalign index FOLDER`.")
    return reference(), None


_REFERENCE: list[SongIndex] = []


def reference() -> SongIndex:
    if not _REFERENCE:
        _REFERENCE.append(reference_index())
    return _REFERENCE[0]


def run_search(args) -> int:
    """Songs ranked by the score `predict` shows for the words: calibrated and plane-aware, so
    "sad" finds the songs read as sad first."""
    import numpy as np

    from .text.labels import parse_words
    from .answer.pipeline import EmotionPipeline
    words = parse_words(args.words)
    index, library = song_index(args)
    pipe = EmotionPipeline()
    va = (pipe.reference_valence_arousal if index.source == "reference" else
          np.array([[np.nan if i.get(k) is None else i[k] for k in ("valence", "arousal")]
                    for i in index.info], float).reshape(-1, 2))
    scores = pipe.rank_songs(words, index.embeddings, va)
    cosines = index.embeddings @ pipe.text.embed(words).mean(axis=0)
    order = np.argsort(-scores, kind="stable")[:max(0, args.top)]
    show_hits(index, [(int(i), round(float(cosines[i]), 4)) for i in order], args.json,
              f"{', '.join(words)}", scores=scores)
    if library:
        library.close()
    return 0


def run_similar(args) -> int:
    index, library = song_index(args)
    vector, exclude, name = query_song(args, index, library)
    show_hits(index, index.search(vector, args.top, exclude), args.json, f"like {name}")
    if library:
        library.close()
    return 0


def query_song(args, index: SongIndex, library: Library | None):
    """(embedding, row to leave out, name) of a library song (id, path or hash), a reference
    clip ("emotify/12"), or an audio file (analysed now)."""
    key = args.song
    row = library.song(key) if library else None
    if row is not None:
        return row.embedding, index.find(row.path), row.path
    ref = reference()
    at = ref.find(key)
    if at is not None:
        return ref.embeddings[at], index.find(key), key
    if Path(key).is_file():
        from .answer.pipeline import EmotionPipeline
        song = EmotionPipeline(encoder=args.encoder, adapter=args.adapter).analyze(key)
        found = None
        if library:
            from .digest import file_digest
            same = library.song(file_digest(key))
            found = index.find(same.path) if same else None
        return song.song_embedding, found, song.name
    where = "your library or the reference corpus" if library else "the reference corpus"
    raise CommandError(f"No song {key!r} in {where}, and no audio file by that name. Name a "
                       f"song by its id, path or hash (library), e.g. emotify/12 (reference), "
                       f"or give an audio file.")


def show_hits(index: SongIndex, hits: list[tuple[int, float]], as_json: bool, query: str,
              scores=None) -> None:
    """Print ranked songs; `scores` (N,) are the query's scores (search), else the cosine ranks."""
    if as_json:
        for rank, (i, cosine) in enumerate(hits, 1):
            extra = {} if scores is None else {"score": round(float(scores[i]), 4)}
            print(json.dumps({"rank": rank, "song": index.keys[i], "cosine": cosine, **extra,
                              "source": index.source, **index.info[i]}, ensure_ascii=False))
        return
    what = "your library" if index.source == "library" else "reference corpus"
    print(f"{len(index):,} songs ({what}) ranked by "
          f"{'cosine' if scores is None else 'score (as predict shows it)'}, {query}:")
    width = max([len(index.keys[i]) for i, _ in hits] + [4])
    for rank, (i, cosine) in enumerate(hits, 1):
        value = f"{cosine:+.3f}" if scores is None else f"{float(scores[i]):.3f}"
        print(f"{rank:>4}  {value}  {index.keys[i]:<{width}}  {describe(index.info[i])}")


def describe(info: dict) -> str:
    """'60 s, valence +0.12, arousal -0.40' (library) or '4q, known quadrant Q4' (reference)."""
    parts = []
    for key, value in info.items():
        if value is None or key == "id":
            continue
        name = key.replace("_", " ")
        parts.append(f"{value:.0f} s" if key == "duration_s" else
                     f"{name} Q{value}" if key.endswith("quadrant") else
                     f"{name} {value:+.2f}" if isinstance(value, float) else f"{value}")
    return ", ".join(parts)


# ---- export -----------------------------------------------------------------------------

def run_export(args) -> int:
    from .answer.confidence import NEUTRAL_WORDS, reading_quadrant
    from .text.labels import DEFAULT_LABELS, load_label_set, parse_words
    from .answer.reference import neutral_radius
    from .answer.results import rank_order
    from .answer.valence_arousal import QUADRANT_WORDS
    radius = neutral_radius(args.encoder)
    path = db_path(args)
    if not path.is_file():
        raise CommandError(f"No library yet ({path.name}): run `emoalign index FOLDER` first.")
    with Library(path, create=False) as library:
        rows = library.songs()
        if not rows:
            raise CommandError(f"The library {library.name} is empty: run `emoalign index FOLDER`.")
        every_word = bool(args.words or args.labels)
        words = (parse_words(args.words) if args.words else
                 list(load_label_set(args.labels or DEFAULT_LABELS).labels))
        stored = library.score_labels if library.scores_current else []
        scored = score_rows(rows, words, stored, args)
        out = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout
        try:
            writer = None
            for row, (scores, raw) in zip(rows, scored):
                record = {"id": row.id, "path": row.path, "paths": row.paths, "hash": row.hash,
                          "duration_s": round(row.duration_s, 2),
                          "valence": _round(row.valence), "arousal": _round(row.arousal)}
                quadrant = (None if row.valence is None else
                            reading_quadrant(row.valence, row.arousal, radius))
                record["quadrant"] = quadrant  # 0: too near the centre to name one
                record["quadrant_words"] = ("" if quadrant is None else
                                            QUADRANT_WORDS.get(quadrant, NEUTRAL_WORDS))
                record["calibrated"] = row.calibrated
                order = [] if scores is None else rank_order(scores, raw)[: args.top_k]
                record["top"] = [{"word": words[i], "score": _round(scores[i])} for i in order]
                if every_word:
                    record["scores"] = ({} if scores is None else
                                        {w: _round(s) for w, s in zip(words, scores)})
                if args.json:
                    print(json.dumps(record, ensure_ascii=False), file=out)
                else:
                    writer = writer or _csv_writer(out, words if every_word else [], args.top_k)
                    writer.writerow(flat(record, args.top_k))
        finally:
            if args.out:
                out.close()
    if args.out:
        say(f"{len(rows):,} songs written to {Path(args.out).name}.")
    return 0


def score_rows(rows, words: list[str], stored: list[str], args):
    """Per row (calibrated scores, raw cosines) of `words`: from the stored scores when every
    word is a stored label, else scored now from the stored embeddings (text model)."""
    import numpy as np
    position = {w: i for i, w in enumerate(stored)}
    if all(w in position for w in words):
        take = np.array([position[w] for w in words])
        return [(None, None) if r.scores is None else (r.scores[take], r.raw[take]) for r in rows]
    from .answer.pipeline import EmotionPipeline
    pipe = EmotionPipeline(encoder=args.encoder, adapter=args.adapter)
    from .library.search import EMBEDDING_DIM
    embeddings = np.stack([r.embedding for r in rows]) if rows else np.zeros((0, EMBEDDING_DIM))
    va = np.array([[np.nan if r.valence is None else r.valence,
                    np.nan if r.arousal is None else r.arousal] for r in rows], float).reshape(-1, 2)
    return list(zip(pipe.score_embeddings(embeddings, words, va),
                    embeddings @ pipe.text.embed(words).T))


def _round(value) -> float | None:
    return None if value is None else round(float(value), 4)


def _csv_writer(out, words: list[str], top_k: int):
    base = ["id", "path", "paths", "hash", "duration_s", "valence", "arousal", "quadrant",
            "quadrant_words", "calibrated"]
    tops = [c for k in range(1, top_k + 1) for c in (f"top{k}", f"top{k}_score")]
    writer = csv.DictWriter(out, fieldnames=base + tops + [f"score:{w}" for w in words],
                            extrasaction="ignore")
    writer.writeheader()
    return writer


def flat(record: dict, top_k: int) -> dict:
    """A JSON record as one CSV row: paths '|'-joined, top words and scores in columns."""
    row = {**record, "paths": "|".join(record["paths"])}
    for k, top in enumerate(record["top"], 1):
        row[f"top{k}"], row[f"top{k}_score"] = top["word"], top["score"]
    for word, score in record.get("scores", {}).items():
        row[f"score:{word}"] = score
    return row


# ---- journey ----------------------------------------------------------------------------

def run_journey(args) -> int:
    """A playlist from FROM to TO over the library (library/journey.py plans,
    library/playlist.py reads what was typed and writes the M3U8)."""
    from .library.journey import MIN_SONGS, JourneyError, plan_present
    from .library.playlist import endpoint, library_pool, locate, title_of, write_m3u8
    path = db_path(args)
    if not path.is_file():
        raise CommandError(f"No library yet ({path.name}): run `emoalign index FOLDER` first.")
    with Library(path, create=False) as library:
        pool, ids, unscored = library_pool(library.index(args.encoder))
        if unscored:
            say(f"note: {unscored} songs have no valence/arousal yet (indexed by an older "
                f"EmoAlign) and are left out; rerun `emoalign index FOLDER`.")
        if len(pool) < MIN_SONGS:
            raise CommandError(f"The library {library.name} has {len(pool)} song"
                               f"{'' if len(pool) == 1 else 's'} with valence/arousal; a "
                               f"journey needs at least {MIN_SONGS}. Add music with "
                               f"`emoalign index FOLDER`.")
        roots = [Path(args.music).expanduser()] if args.music else list(map(Path, library.roots()))
        row_of = {song_id: row for row, song_id in enumerate(ids)}
        pipes = []

        def pipeline():
            if not pipes:
                from .answer.pipeline import EmotionPipeline
                pipes.append(EmotionPipeline(encoder=args.encoder, adapter=args.adapter))
            return pipes[0]

        def find_song(key: str) -> int | None:
            row = library.song(key)
            if row is None and Path(key).expanduser().is_file():  # a file: by its content
                from .digest import file_digest
                row = library.song(file_digest(Path(key).expanduser()))
            return None if row is None else row_of.get(row.id)

        try:
            start = endpoint(args.start, pool, find_song, pipeline)
            end = endpoint(args.end, pool, find_song, pipeline)
            files: dict[int, Path | None] = {}

            def present(row: int) -> bool:
                if not roots:
                    return True  # nowhere to look: every song counts as there
                if row not in files:
                    files[row] = locate(pool.names[row], roots)
                return files[row] is not None

            journey, missing = plan_present(pool, start, end, args.length, args.minutes,
                                            present)
            for row in missing:
                say(f"note: {pool.names[row]} is no longer on disk and was skipped (rerun "
                    f"`emoalign index FOLDER --prune` to forget it).")
            if args.out:
                if not roots:
                    raise CommandError(f"{library.name} does not say where its songs are "
                                       f"(indexed by an older EmoAlign): give --music FOLDER, "
                                       f"or rerun `emoalign index FOLDER`.")
                out = write_m3u8(args.out, journey, [files[r] for r in journey.rows],
                                 [Path(pool.names[r]).stem for r in journey.rows],
                                 title_of(journey))
                say(f"{len(journey)} songs written to {out.name}.")
        except JourneyError as error:
            raise CommandError(str(error)) from None
    if args.json:
        print(json.dumps(journey.to_dict(pool), ensure_ascii=False, indent=1))
    else:
        show_journey(journey, pool)
    return 0


def show_journey(journey, pool, names: list[str] | None = None) -> None:
    """The playlist with each song's valence/arousal and the size of each step; `names`: what
    to call the songs, in play order (default: the pool's names)."""
    names = names or [pool.names[row] for row in journey.rows]
    start, end = journey.start, journey.end
    print(f"From {start.label} ({start.point[0]:+.2f}, {start.point[1]:+.2f}) to {end.label} "
          f"({end.point[0]:+.2f}, {end.point[1]:+.2f}): {len(journey)} songs, "
          f"{journey.total_s / 60:.1f} min, out of {len(pool):,}.")
    print(f"{'#':>3}  {'valence':>7}  {'arousal':>7}  {'step':>5}  {'alike':>5}  {'time':>5}  song")
    for k, name in enumerate(names):
        v, a = journey.va[k]
        step = f"{journey.steps[k - 1]:.2f}" if k else "-"
        alike = f"{journey.similarity[k - 1]:.2f}" if k else "-"
        seconds = int(round(journey.durations[k]))
        print(f"{k + 1:>3}  {v:>+7.2f}  {a:>+7.2f}  {step:>5}  {alike:>5}  "
              f"{seconds // 60:>2}:{seconds % 60:02d}  {name}")
    print(f"Steps on the valence/arousal plane: mean {journey.mean_step:.2f}, largest "
          f"{journey.max_step:.2f}; 'alike' is the cosine of neighbouring songs' embeddings.")
