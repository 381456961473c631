"""EmoAlign web app: read a song's emotions, score your own words, explore the label space.

Wiring only: every number comes from `emoalign.pipeline.EmotionPipeline` (and, on the Train
tab, `emoalign.runs` / `emoalign.datasets`); figures come from `emoalign.plots`, 2-D maps
from `emoalign.projection`.

    python app.py                   # http://127.0.0.1:7860, offline, musicnn + shipped adapter
    python app.py --port 7861 --host 0.0.0.0

Environment: GRADIO_SERVER_PORT / GRADIO_SERVER_NAME (as Gradio reads them),
EMOALIGN_ENCODER and EMOALIGN_ADAPTER (the model a new session starts with; the adapter is a
shipped name or a .safetensors path), EMOALIGN_MAX_SECONDS (song length cap, default 15 min),
EMOALIGN_TRAINED (where adapters trained in the app are written), EMOALIGN_PRELOAD=1 (load the
default model right after start-up instead of on first use), EMOALIGN_DATA (the shared data
folder for the Train tab), EMOALIGN_PUBLIC=1 (public mode; on by default when SPACE_ID is set:
no server paths, uploads only), EMOALIGN_MAX_UPLOAD_MB (per file, default 200),
EMOALIGN_TRAIN_MAX_SECONDS (time cap of a training job; default 1800 in public mode, none
locally), EMOALIGN_LIBRARY_LIMIT (songs kept per session, default 100).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import hashlib
import html
import inspect
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd

from emoalign import jobs, plots
from emoalign.adapter import (ADAPTER_DIR, available_adapters, prune_adapters,
                              stage_uploaded_adapter)
from emoalign.audio import MAX_SECONDS, SEGMENT_SECONDS, AudioError
from emoalign.encoders import DEFAULT_ENCODER, available_encoders, load_encoder
from emoalign.jobs import JobSlot, SessionFiles, Stopped
from emoalign.mert import MertWeightsError
from emoalign.labels import MAX_WORDS, available_label_sets, load_label_set
from emoalign.pipeline import EmotionPipeline, EmotionScores, Prediction, SongAnalysis
from emoalign.projection import MIN_UMAP_POINTS, project_2d
from emoalign.clusters import PAPER_BANDWIDTH
from emoalign.safety import (BoundedCache, UnsafeInput, escape_markdown, public_mode,
                             scrub_paths, stage_uploads)

try:  # Hugging Face ZeroGPU Spaces; optional everywhere else
    import spaces
except ImportError:
    spaces = None

log = logging.getLogger("emoalign.app")

REPO = Path(__file__).resolve().parent
EXAMPLES_DIR = REPO / "assets" / "examples"
TRAINED_DIR = Path(os.environ.get("EMOALIGN_TRAINED", REPO / "runs" / "app-adapters"))
SONG_SECONDS_CAP = float(os.environ.get("EMOALIGN_MAX_SECONDS", MAX_SECONDS))
PUBLIC = public_mode()  # SPACE_ID or EMOALIGN_PUBLIC=1: no server paths from visitors
DOWNLOADS = SessionFiles(tempfile.mkdtemp(prefix="emoalign-downloads-"))  # per session
UPLOADED_ADAPTERS = Path(tempfile.mkdtemp(prefix="emoalign-adapters-"))  # by SHA-256
LIBRARY_LIMIT = int(os.environ.get("EMOALIGN_LIBRARY_LIMIT", 100))  # songs kept per session
MAX_UPLOAD_MB = int(os.environ.get("EMOALIGN_MAX_UPLOAD_MB", 200))  # per uploaded file
MODEL_CACHE_SIZE = 3  # pipelines kept in memory (encoder + adapter + text model each)
TRAINING = JobSlot(max_seconds=float(os.environ.get("EMOALIGN_TRAIN_MAX_SECONDS", 0))
                   or (1800.0 if PUBLIC else None))
TRAINED_KEEP = 10  # adapters trained in the app kept in public mode (oldest deleted)
VOCABULARIES = available_label_sets() + ["all"]
DEFAULT_WORDS = "wistful, furious, serene, bittersweet, triumphant, homesick"
ADAPTER_DEFAULT = "default for the encoder"
SCORE_COLUMNS = ["rank", "emotion", "score", "raw cosine", "segment votes"]
WORD_COLUMNS = ["rank", "word", "score", "raw cosine", "votes", "nearest built-in labels",
                "cluster of the nearest", "closeness to trained labels", "trust"]
CLUSTER_COLUMNS = ["cluster", "size", "labels", "vocabularies"]
RANKING_COLUMNS = ["rank", "song", "score", "source"]
METRIC_COLUMNS = ["dataset", "labels", "zero-shot", "f1_segment", "f1_song_vote", "f1_song_mean",
                  "roc_auc_song", "pr_auc_song"]


def gpu(fn: Callable) -> Callable:
    """Run `fn` on a GPU slice on ZeroGPU Spaces; unchanged where `spaces` is absent."""
    return spaces.GPU(duration=120)(fn) if spaces is not None else fn


# ---------------------------------------------------------------------------------------------
# Models, loaded on first use and shared by every session


@dataclasses.dataclass(frozen=True)
class ModelChoice:
    encoder: str = os.environ.get("EMOALIGN_ENCODER") or DEFAULT_ENCODER
    adapter: str | None = os.environ.get("EMOALIGN_ADAPTER") or None  # None: shipped default

    def describe(self) -> str:
        adapter = Path(self.adapter).stem if self.adapter else f"{self.encoder}-default"
        return (f"encoder **{escape_markdown(self.encoder)}**, "
                f"adapter **{escape_markdown(adapter)}**")


class Models:
    """`EmotionPipeline`s keyed by (encoder, SHA-256 of the adapter's weights and card), so every
    spelling of one adapter shares one pipeline; at most `MODEL_CACHE_SIZE` are kept (least
    recently used dropped). Built on first use under a lock."""

    def __init__(self, size: int = MODEL_CACHE_SIZE) -> None:
        self._lock = threading.Lock()
        self._encoders: dict[str, object] = {}
        self._pipelines: BoundedCache[tuple, EmotionPipeline] = BoundedCache(size)
        self._digests: BoundedCache[tuple, str] = BoundedCache(256)

    def key(self, choice: ModelChoice) -> tuple[str, str]:
        """(encoder, SHA-256s of the adapter's weights and card): the model's identity."""
        if choice.adapter is None:
            path = ADAPTER_DIR / f"{choice.encoder}-default.safetensors"
        elif choice.adapter in available_adapters():
            path = ADAPTER_DIR / f"{choice.adapter}.safetensors"
        else:
            path = Path(choice.adapter).with_suffix(".safetensors")
        digests = []
        for file in (path, path.with_suffix(".json")):  # the weights and the card they need
            try:
                stat = file.resolve().stat()
            except OSError:  # loading will say what is missing
                return choice.encoder, f"missing:{choice.adapter}"
            signature = (str(file.resolve()), stat.st_size, stat.st_mtime_ns)
            digest = self._digests.get(signature)
            if digest is None:
                digest = file_digest(file, "sha256")
                self._digests.put(signature, digest)
            digests.append(digest)
        return choice.encoder, "+".join(digests)

    def loaded(self, choice: ModelChoice) -> bool:
        return self.key(choice) in self._pipelines

    def get(self, choice: ModelChoice, progress: Callable | None = None) -> EmotionPipeline:
        key = self.key(choice)
        with self._lock:
            pipe = self._pipelines.get(key)
            if pipe is None:
                if progress is not None:
                    progress(0.0, desc=f"Loading {choice.encoder} (first use, a few seconds)")
                start = time.perf_counter()
                pipe = EmotionPipeline(self._encoder(choice.encoder), adapter=choice.adapter,
                                       max_seconds=SONG_SECONDS_CAP)
                self._pipelines.put(key, pipe)
                log.info("loaded %s in %.1f s", choice, time.perf_counter() - start)
            return pipe

    def encoder(self, name: str):
        """The encoder alone (feature extraction for training needs no adapter)."""
        with self._lock:
            return self._encoder(name)

    def _encoder(self, name: str):
        if name not in self._encoders:
            self._encoders[name] = load_encoder(name)
        return self._encoders[name]


MODELS = Models()


class AnalysisCache:
    """Analyses by (model, file content, trim); bundled examples are analysed once for all."""

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[tuple, SongAnalysis] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def analyse(self, choice: ModelChoice, path: str | Path, name: str, trim: bool = False,
                progress: Callable | None = None, digest: str | None = None
                ) -> tuple[SongAnalysis, str]:
        digest = digest or file_digest(path)
        key = (MODELS.key(choice), digest, trim)
        with self._lock:
            song = self._items.get(key)
            if song is not None:
                self._items.move_to_end(key)
        if song is None:
            song = MODELS.get(choice, progress).analyze(path, name=name, progress=progress,
                                                        trim=trim)
            with self._lock:
                self._items[key] = song
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return dataclasses.replace(song, name=name), digest


ANALYSES = AnalysisCache()


def file_digest(path: str | Path, algorithm: str = "sha1") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Bundled examples and the per-session library


@dataclasses.dataclass(frozen=True)
class Example:
    path: Path
    title: str
    description: str = ""
    emotions: tuple[str, ...] = ()  # known (human) labels, when examples.json gives them


def load_examples(directory: Path = EXAMPLES_DIR) -> list[Example]:
    index = directory / "examples.json"
    if not index.is_file():
        return []
    rows = json.loads(index.read_text())
    rows = rows.get("examples", rows) if isinstance(rows, dict) else rows
    examples = []
    for row in rows:
        path = directory / row["file"]
        if path.is_file():
            emotions = row.get("emotions") or row.get("labels") or ()
            examples.append(Example(path, row.get("title") or path.stem,
                                    row.get("description", ""),
                                    tuple([emotions] if isinstance(emotions, str) else emotions)))
    return examples


EXAMPLES = load_examples()


@functools.cache
def example_digests() -> dict[str, Example]:
    """Bundled examples by file content, to recognise one however it reached the app."""
    return {file_digest(e.path): e for e in EXAMPLES}


@dataclasses.dataclass
class Entry:
    song: SongAnalysis
    digest: str
    source: str  # "yours" or "example"
    emotions: tuple[str, ...] = ()


@dataclasses.dataclass
class Session:
    """What one browser tab (or one gradio_client) has done: its model and its songs."""
    model: ModelChoice = dataclasses.field(default_factory=ModelChoice)
    songs: dict[str, Entry] = dataclasses.field(default_factory=dict)  # name -> entry
    current: str | None = None
    dropped: tuple[str, ...] = ()  # songs the last `with_song` removed (library limit)

    def song(self, name: str | None = None) -> SongAnalysis:
        name = name or self.current
        if not self.songs:
            raise gr.Error("Analyse a song first (tab 'Song -> emotions').")
        if name not in self.songs:
            raise gr.Error(f"No song named {name!r} in this session; "
                           f"yours are: {', '.join(self.songs)}.")
        return self.songs[name].song

    def with_song(self, entry: Entry) -> Session:
        """A copy holding `entry` as the current song (the newest `LIBRARY_LIMIT` are kept)."""
        songs = {n: e for n, e in self.songs.items() if e.digest != entry.digest
                 or e.song.name != entry.song.name}
        name = unique_name(entry.song.name, songs)
        songs[name] = entry
        dropped = []
        while len(songs) > LIBRARY_LIMIT:
            dropped.append(next(iter(songs)))
            songs.pop(dropped[-1])
        return dataclasses.replace(self, songs=songs, current=name, dropped=tuple(dropped))


def unique_name(name: str, taken) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate


def library(session: Session, progress: Callable | None = None) -> list[tuple[str, Entry]]:
    """The bundled examples (analysed on first need) plus this session's songs."""
    entries: list[tuple[str, Entry]] = []
    yours = {e.digest for e in session.songs.values()}
    for i, example in enumerate(EXAMPLES):
        if progress is not None:
            progress((i, len(EXAMPLES)), desc=f"Analysing bundled example {example.title}")
        song, digest = ANALYSES.analyse(session.model, example.path, example.title)
        if digest not in yours:
            entries.append((example.title, Entry(song, digest, "example", example.emotions)))
    entries += list(session.songs.items())
    return entries


# ---------------------------------------------------------------------------------------------
# Small formatting helpers (no science: they only arrange what the pipeline returns)


def vocabulary_choices() -> list[tuple[str, str]]:
    return [(load_label_set(name).title, name) for name in VOCABULARIES]


def vocabulary(name: str) -> tuple[list[str], dict[str, str]]:
    """The label strings of a vocabulary and their display names (quadrants: 'Q1 happy, ...')."""
    label_set = load_label_set(name or "gems")
    names = label_set.names or ("",) * len(label_set.labels)
    return list(label_set.labels), {label: f"{short} {label}".strip()
                                    for label, short in zip(label_set.labels, names)}


def voting_segments(scores: EmotionScores) -> int:
    """How many segments voted (each casts `top_k` votes; silent ones do not vote)."""
    return int(scores.vote_counts.sum()) // scores.top_k


def scores_frame(scores: EmotionScores, display: dict[str, str] | None = None) -> pd.DataFrame:
    display = display or {}
    rows = [{"rank": rank, "emotion": display.get(r["word"], r["word"]), "score": r["score"],
             "raw cosine": r["raw"], "segment votes": f"{r['votes']} / {voting_segments(scores)}"}
            for rank, r in enumerate(scores.ranking(), 1)]
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def score_figures(scores: EmotionScores, display: dict[str, str] | None = None,
                  title: str = "Top emotions"):
    display = display or {}
    words = [display.get(w, w) for w in scores.words]
    bars = plots.score_bars(words, scores.song_scores, scores.vote_counts,
                            voting_segments(scores), title=title, raw=scores.song_raw,
                            calibrated=scores.calibrated)
    timeline = plots.timeline_heatmap(scores.segment_starts, words, scores.segment_scores,
                                      segment_seconds=SEGMENT_SECONDS,
                                      calibrated=scores.calibrated)
    return bars, timeline


def song_summary(prediction: Prediction, display: dict[str, str] | None = None,
                 notices: tuple[str, ...] = ()) -> str:
    display = display or {}
    song, scores = prediction.song, prediction.scores
    top = scores.ranking()[: scores.top_k]
    lines = [f"### {escape_markdown(song.name)}",
             f"{song.duration_s:.1f} s, {song.n_segments} segment(s) of "
             f"{SEGMENT_SECONDS:.0f} s",
             "",
             "**Feels like:** " + ", ".join(
                 f"{escape_markdown(display.get(r['word'], r['word']))} ({r['score']:.2f})" for r in top),
             "",
             f"*{score_meaning(scores)}*",
             "",
             f"**{prediction.va.describe()}**"]
    if song.tags:
        lines += ["", f"*The {song.encoder} encoder hears:* " +
                  ", ".join(f"{t} ({p:.2f})" for t, p in list(song.tags.items())[:5])]
    lines += [f"\n> {notice}" for notice in [*prediction.notices, *notices]]
    return "\n".join(lines)


def score_meaning(scores: EmotionScores) -> str:
    """One plain sentence on what the top score means."""
    best = scores.ranking()[0]
    if not scores.calibrated:
        return f"Scores are {best['meaning']}."
    return f"A score of {best['score']:.2f} means: {best['meaning']}."


def library_notice(session: Session) -> tuple[str, ...]:
    """What the library limit removed when the current song came in (said, never silent)."""
    if not session.dropped:
        return ()
    names = ", ".join(escape_markdown(n) for n in session.dropped)
    return (f"Your library keeps the newest {LIBRARY_LIMIT} songs; the oldest "
            f"({names}) was removed to make room.",)


def write_downloads(prediction: Prediction, vocabulary_name: str,
                    session_id: str | None = None) -> list[str]:
    """The scores as CSV and JSON in this session's download folder (only the latest pair is
    kept; the folder goes when the session ends)."""
    folder = DOWNLOADS.fresh(session_id)
    stem = re.sub(r"[^\w.-]+", "_", Path(prediction.song.name).stem)[:60] or "song"
    csv_path = folder / f"{stem}-{vocabulary_name}-scores.csv"
    json_path = folder / f"{stem}-{vocabulary_name}-scores.json"
    csv_path.write_text(prediction.to_csv())
    json_path.write_text(prediction.to_json(segments=True))
    return [str(csv_path), str(json_path)]


def abbreviate(labels: list[str], n: int = 8) -> str:
    """Labels joined by '; ' (CAL500 labels hold commas), at most `n` of them."""
    return "; ".join(labels[:n]) + (f" (+{len(labels) - n} more)" if len(labels) > n else "")


def status_text(session: Session) -> str:
    state = ("ready" if MODELS.loaded(session.model)
             else "loads on first use (a few seconds; the first song takes longer)")
    gpu_note = " · ZeroGPU" if spaces is not None else ""
    return (f"**Model:** {session.model.describe()} — {state}{gpu_note} · "
            f"{len(session.songs)} song(s) analysed in this session, {len(EXAMPLES)} bundled "
            f"example(s)")


def song_choices(session: Session):
    names = list(session.songs)
    return (gr.update(choices=names, value=session.current),
            gr.update(choices=names, value=session.current))


# ---------------------------------------------------------------------------------------------
# Errors: readable messages in the UI, and the server keeps serving


def user_errors(fn: Callable) -> Callable:
    """Turn any exception into a `gr.Error` with a message for people (logged in full)."""

    def translate(error: Exception) -> gr.Error:
        return gr.Error(user_message(error, fn.__name__), print_exception=False)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as error:
                raise translate(error) from error
        return generator

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as error:
            raise translate(error) from error
    return wrapper


def user_message(error: Exception, where: str = "") -> str:
    """What the user reads about `error`: our own messages with any server path reduced to a
    file name; for anything unexpected only that it happened (the details go to the log)."""
    if isinstance(error, gr.Error):
        return scrub_paths(str(error.message))
    if isinstance(error, (AudioError, ValueError, FileNotFoundError, KeyError)):
        keyed = isinstance(error, KeyError) and error.args  # KeyError quotes its message
        log.info("refused in %s: %r", where, error)
        return scrub_paths(str(error.args[0]) if keyed else str(error))
    log.exception("unexpected error in %s", where)
    return "Something went wrong on the server (it is logged). Your other results are kept."


def session_id(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None) if request is not None else None


def end_session(request: gr.Request) -> None:
    """The tab closed or the client went away: delete its downloads, stop its training."""
    DOWNLOADS.remove(session_id(request))
    TRAINING.stop(session_id(request))


# ---------------------------------------------------------------------------------------------
# Callbacks


@gpu
@user_errors
def analyse(audio: str | None, vocabulary_name: str, top_k: int, trim: bool, session: Session,
            request: gr.Request = None, progress=gr.Progress()):
    """Analyse a song (file path) and score it on a built-in vocabulary.

    Returns: summary (markdown), ranked bar chart, per-segment timeline, score table, and the
    scores as CSV and JSON files. The analysed song is kept even when scoring it fails.
    """
    if not audio:
        raise gr.Error("Upload or record a song first, or pick a bundled example.")
    path = Path(audio)
    digest = file_digest(path)
    example = example_digests().get(digest)
    name = example.title if example else path.name
    song, digest = ANALYSES.analyse(session.model, path, name, trim, progress, digest)
    entry = Entry(song, digest, "example" if example else "yours",
                  example.emotions if example else ())
    session = session.with_song(entry)
    try:
        shown = show_song(session, vocabulary_name, top_k, session_id(request),
                          library_notice(session))
    except Exception as error:  # the song stays in the library; say what failed
        message = user_message(error, "show_song")
        gr.Warning(message)
        return (session, f"### {escape_markdown(song.name)}\n\nAnalysed and kept in your "
                         f"library, but it could not be shown: {escape_markdown(message)}",
                *[gr.skip()] * 4)
    return (session, *shown)


def analyse_on_change(audio, vocabulary_name, top_k, trim, session, request: gr.Request = None,
                      progress=gr.Progress()):
    """Upload, recording or example: analyse at once; clearing the input does nothing."""
    if not audio:
        return [gr.skip()] * 6
    return analyse(audio, vocabulary_name, top_k, trim, session, request, progress)


def show_song(session: Session, vocabulary_name: str, top_k: int, session_key: str | None = None,
              notices: tuple[str, ...] = ()):
    song = session.song()
    pipe = MODELS.get(session.model)
    labels, display = vocabulary(vocabulary_name)
    prediction = pipe.predict(song, labels, top_k=int(top_k))
    bars, timeline = score_figures(
        prediction.scores, display, f"Top emotions ({load_label_set(vocabulary_name).title})")
    return (song_summary(prediction, display, notices), bars, timeline,
            scores_frame(prediction.scores, display),
            write_downloads(prediction, vocabulary_name, session_key))


@user_errors
def rescore(vocabulary_name: str, top_k: int, session: Session, request: gr.Request = None):
    """Score the current song on another vocabulary or top-k (no audio recomputation)."""
    if not session.songs:
        return [gr.skip()] * 5
    return show_song(session, vocabulary_name, top_k, session_id(request))


@user_errors
def score_words(words: str, song_name: str | None, top_k: int, session: Session):
    """Score your own emotion words on an analysed song, and say where each word sits.

    Returns: bar chart, timeline, a table (score, segment votes, nearest built-in labels and
    their cluster, closeness to the trained labels) and warnings for unfamiliar words.
    """
    song = session.song(song_name or None)
    pipe = MODELS.get(session.model)
    scores = pipe.score(song, words or "", top_k=int(top_k))
    bars, timeline = score_figures(scores, title=f"Your words on {html.escape(song.name)}")
    rows, warnings = [], []
    for rank, row in enumerate(scores.ranking(), 1):
        word = row["word"]
        explanation = pipe.explain(word, k=3)
        nearest = explanation.nearest
        rows.append({
            "rank": rank, "word": word, "score": row["score"], "raw cosine": row["raw"],
            "votes": row["votes"],
            "nearest built-in labels": "; ".join(f"{label} ({label_set}, {sim:.2f})"
                                                 for label, label_set, sim, _ in nearest),
            "cluster of the nearest": abbreviate(nearest[0][3]) if nearest else "",
            "closeness to trained labels": explanation.similarity_to_known,
            "trust": "ok" if explanation.familiar else "low",
        })
        if explanation.warning:
            warnings.append(f"- {escape_markdown(explanation.warning)}")
    best = ", ".join(escape_markdown(w) for w in scores.top)
    notes = (f"Scored **{len(scores.words)}** word(s) on **{escape_markdown(song.name)}** "
             f"(best: {best}). " + score_meaning(scores))
    if warnings:
        notes += "\n\n**Less trustworthy words:**\n" + "\n".join(warnings)
    return bars, timeline, pd.DataFrame(rows, columns=WORD_COLUMNS), notes


@user_errors
def cluster_labels(label_sets: list[str], words: str, bandwidth: float, estimate: bool,
                   session: Session):
    """Mean Shift clusters of the chosen vocabularies plus your words.

    `estimate` true uses the paper's bandwidth estimate (quantile 0.03) and ignores
    `bandwidth`. Returns: graph, cluster table, counts (markdown), the bandwidth used.
    """
    pipe = MODELS.get(session.model)
    clusters = pipe.clusters(list(label_sets or []), words=words or (),
                             bandwidth=None if estimate else float(bandwidth))
    sources: dict[str, list[str]] = {}
    for name in label_sets or []:
        for label in load_label_set(name).labels:
            sources.setdefault(label, []).append(load_label_set(name).title)
    for label in clusters.labels:
        sources.setdefault(label, ["your words"])
    # number the clusters by size, largest first, in the graph and the table alike
    rank = {label: r for r, group in enumerate(clusters.groups()) for label in group}
    assignments = [rank[label] for label in clusters.labels]
    figure = plots.cluster_graph(clusters.labels, assignments, clusters.embeddings, sources,
                                 title=f"{len(clusters.labels)} labels, {clusters.n_clusters} "
                                       f"clusters (bandwidth {clusters.bandwidth:.4f})")
    table = pd.DataFrame([{"cluster": r + 1, "size": len(group), "labels": "; ".join(group),
                           "vocabularies": "; ".join(dict.fromkeys(
                               s for label in group for s in sources[label]))}
                          for r, group in enumerate(clusters.groups())], columns=CLUSTER_COLUMNS)
    multi = sum(len(group) > 1 for group in clusters.groups())
    counts = (f"**{len(clusters.labels)}** distinct labels from "
              f"{len(label_sets or [])} vocabularies{' + your words' if words else ''} -> "
              f"**{clusters.n_clusters}** clusters ({multi} with more than one label), "
              f"bandwidth {clusters.bandwidth:.4f}"
              f"{' (estimated as in the paper, quantile 0.03)' if estimate else ''}.")
    return figure, table, counts, round(clusters.bandwidth, 4)


@gpu
@user_errors
def embedding_map(vocabulary_name: str, colour_by: str, show_labels: bool, session: Session,
                  progress=gr.Progress()):
    """2-D map (UMAP, or PCA for few points) of the library's songs and the label embeddings.

    `colour_by` is "predicted emotion" or "true emotion" (known for bundled examples only).
    Returns: the figure and a line saying what was drawn.
    """
    entries = library(session, progress)
    if not entries:
        raise gr.Error("The library is empty: analyse a song first.")
    pipe = MODELS.get(session.model)
    labels, display = vocabulary(vocabulary_name)
    names, kinds, colours, hover, vectors = [], [], [], [], []
    for name, entry in entries:
        scores = pipe.score(entry.song, labels, top_k=1)
        predicted = display[scores.top[0]]
        truth = ", ".join(entry.emotions) if entry.emotions else "unknown"
        names.append(name)
        kinds.append("uploaded" if entry.source == "yours" else "song")
        colours.append(predicted if colour_by == "predicted emotion" else truth)
        source = "your song" if entry.source == "yours" else "bundled example"
        hover.append(f"<b>{html.escape(name)}</b><br>{source}"
                     f"<br>predicted: {predicted} ({float(scores.song_scores.max()):.2f})"
                     f"<br>known: {truth}")
        vectors.append(entry.song.song_embedding)
    if show_labels:
        embeddings = pipe.text.embed(labels)
        for label, vector in zip(labels, embeddings):
            names.append(display[label])
            kinds.append("label")
            colours.append(display[label] if colour_by == "predicted emotion" else "label")
            hover.append(f"<b>{display[label]}</b><br>label of "
                         f"{load_label_set(vocabulary_name).title}")
            vectors.append(vector)
    progress(0.9, desc="Projecting to 2-D (the first UMAP takes ~30 s to compile)")
    xy, method = project_2d(np.stack(vectors))
    n_songs = len(entries)
    figure = plots.embedding_map(xy, names, kinds, colours, hover,
                                 title=f"{method.upper()} of {n_songs} songs"
                                       f"{f' and {len(labels)} labels' if show_labels else ''}")
    why = (f" (UMAP needs at least {MIN_UMAP_POINTS} points)"
           if method == "pca" and len(vectors) < MIN_UMAP_POINTS else "")
    info = (f"{method.upper()}{why} of {n_songs} song(s) "
            f"({sum(k == 'uploaded' for k in kinds)} yours, shown as stars)"
            f"{f' and {len(labels)} labels (open diamonds)' if show_labels else ''}; "
            f"coloured by {colour_by}.")
    return figure, info


@gpu
@user_errors
def search_songs(words: str, session: Session, progress=gr.Progress()):
    """Rank the library's songs by emotion words (query by tag). Returns a table."""
    entries = library(session, progress)
    pipe = MODELS.get(session.model)
    name_of = {id(entry.song): (name, entry) for name, entry in entries}
    ranked = pipe.search(words or "", [entry.song for _, entry in entries])
    return ranking_frame(ranked, name_of)


@gpu
@user_errors
def similar_songs(song_name: str | None, session: Session, progress=gr.Progress()):
    """Songs of the library most like one of yours (cosine of song embeddings)."""
    song = session.song(song_name or None)
    entries = library(session, progress)
    pipe = MODELS.get(session.model)
    name_of = {id(entry.song): (name, entry) for name, entry in entries}
    return ranking_frame(pipe.similar(song, [entry.song for _, entry in entries]), name_of)


def ranking_frame(ranked, name_of) -> pd.DataFrame:
    rows = [{"rank": r + 1, "song": name_of[id(song)][0], "score": score,
             "source": "yours" if name_of[id(song)][1].source == "yours" else "bundled example"}
            for r, (song, score) in enumerate(ranked)]
    return pd.DataFrame(rows, columns=RANKING_COLUMNS)


@user_errors
def set_model(encoder: str, adapter: str, session: Session, adapter_files: list[str] | None = None,
              progress=gr.Progress()):
    """Switch this session to another encoder and/or adapter: a shipped name, or an uploaded
    adapter (`adapter_files`: its .safetensors and its .json card), or, when the app is not
    public, a .safetensors path on the server. Songs analysed with the same encoder are
    re-embedded without audio; songs from another encoder are dropped."""
    if adapter_files:
        adapter = stage_adapter(adapter_files)
    elif not adapter or adapter == ADAPTER_DEFAULT:
        adapter = None
    else:
        adapter = resolve_adapter(adapter)
    return switch_model(ModelChoice(encoder or DEFAULT_ENCODER, adapter), session, progress)


def switch_model(choice: ModelChoice, session: Session, progress=None):
    try:
        pipe = MODELS.get(choice, progress)
    except (ValueError, FileNotFoundError, MertWeightsError) as error:  # refused adapter, no MERT
        log.warning("cannot load %s: %s", choice, error)
        raise gr.Error(f"Could not load {choice.encoder}: {scrub_paths(str(error))}",
                       print_exception=False)
    songs, dropped = {}, []
    for name, entry in session.songs.items():
        if entry.song.encoder == pipe.encoder.name:
            song = pipe.reembed(dataclasses.replace(entry.song))  # a copy: caches keep theirs
            songs[name] = dataclasses.replace(entry, song=song)
        else:
            dropped.append(name)
    current = session.current if session.current in songs else next(reversed(songs), None)
    session = dataclasses.replace(session, model=choice, songs=songs, current=current)
    message = status_text(session)
    if dropped:
        message += (f"\n\n{len(dropped)} song(s) analysed with another encoder were removed; "
                    f"analyse them again: {', '.join(escape_markdown(d) for d in dropped)}")
    return session, message


def adapter_choices() -> list[str]:
    if PUBLIC:  # visitors' trained adapters stay theirs (Use this adapter)
        return [ADAPTER_DEFAULT] + available_adapters()
    trained = [str(TRAINED_DIR / f"{n}.safetensors") for n in available_adapters(TRAINED_DIR)]
    return [ADAPTER_DEFAULT] + available_adapters() + trained


def resolve_adapter(adapter: str) -> str:
    """A shipped name as it is; a path (refused in public mode) made absolute, so that every
    spelling of one file is one model."""
    if adapter in available_adapters():
        return adapter
    if PUBLIC:  # one answer whether or not the path exists: no oracle
        raise UnsafeInput(f"This public app does not open files on the server. Pick a shipped "
                          f"adapter ({', '.join(available_adapters())}) or upload one (its "
                          f".safetensors and .json card).")
    return str(Path(adapter).expanduser().resolve())


def stage_adapter(files: list[str]) -> str:
    """An uploaded adapter (its .safetensors and .json card), checked and stored by content."""
    paths = [Path(f) for f in files]
    weights = [p for p in paths if p.suffix.lower() == ".safetensors"]
    cards = [p for p in paths if p.suffix.lower() == ".json"]
    if len(weights) != 1 or len(cards) != 1:
        raise UnsafeInput("Upload an adapter as two files: its .safetensors weights and its "
                          ".json card.")
    return str(stage_uploaded_adapter(weights[0], cards[0], UPLOADED_ADAPTERS))


# ---- Train tab ------------------------------------------------------------------------------


def shipped_datasets() -> list[tuple[str, str]]:
    from emoalign.datasets import available_datasets
    titles = {"emotify": "Emotify (GEMS-9, 400 clips)",
              "4q": "4Q (AllMusic moods and Russell quadrants, 900 clips)"}
    return [(titles.get(d, d), d) for d in available_datasets()]


@gpu
@user_errors
def train_adapter(datasets: list[str], targets: str, lam: float, bandwidth: float,
                  epochs: int, variant: str, session: Session, folder: str = "",
                  labels_csv: str | None = None, file_column: str = "file",
                  labels_column: str = "labels", separator: str = ";",
                  split_column: str = "split", uploads: list[str] | None = None,
                  request: gr.Request = None, progress=gr.Progress()):
    """Train an adapter on the chosen shipped datasets and/or your own songs with a labels
    CSV (`labels_csv` and its column names; no split column: a seeded 80/10/10 split). Your
    songs come as `uploads` (audio files or zips), or, when the app is not public, as a
    `folder` on the server. One job runs at a time (with a time cap in public mode); a
    cancelled request stops its job. Evaluates on every test split and saves the adapter.
    Yields status (markdown), the loss curve and the test metrics; the last status names the
    saved adapter."""
    from emoalign.datasets import folder_dataset
    from emoalign.features import feature_path
    from emoalign.runs import run_training
    from emoalign.training import TrainConfig

    folder = (folder or "").strip()
    if folder and PUBLIC:
        raise UnsafeInput("This public app does not read folders on the server: upload the "
                          "audio files (or a zip of them) with the labels CSV.")
    staging = Path(tempfile.mkdtemp(prefix="emoalign-train-")) if uploads else None
    folders = []

    def cleanup() -> None:  # uploads and their features go with the job
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
            for f in folders:
                feature_path(session.model.encoder, f.dataset).unlink(missing_ok=True)

    try:
        if folder or uploads or labels_csv:
            if not labels_csv or not (folder or uploads):
                raise gr.Error("To train on your own songs, give the labels CSV and the audio: "
                               "upload the files (or a zip)"
                               + ("." if PUBLIC else ", or name a folder on the server."))
            if uploads:
                stage_uploads(uploads, [Path(u).name for u in uploads], staging / "audio")
            folders.append(folder_dataset(
                staging / "audio" if uploads else folder, labels_csv,
                (file_column or "").strip() or "file", (labels_column or "").strip() or "labels",
                separator or ";", (split_column or "").strip()))
        names = [*(datasets or []), *(f.dataset for f in folders)]
        if not names:
            raise gr.Error("Pick a dataset to train on, or give your songs and their labels CSV.")
        config = TrainConfig(datasets=tuple(names), encoder=session.model.encoder,
                             targets=targets, lam=float(lam), bandwidth=float(bandwidth),
                             max_epochs=int(epochs), variant=variant)
        job = TRAINING.start(session_id(request))
    except BaseException:
        cleanup()
        raise

    def work(emit):
        try:
            return run_training(
                config, MODELS.encoder(config.encoder), TRAINED_DIR, folders,
                progress=lambda fraction, message: emit((fraction, message)),
                on_epoch=emit, card={"trained_in": "app"}, should_stop=job.should_stop)
        finally:
            cleanup()

    rows: list[dict] = []
    try:
        with contextlib.closing(jobs.stream(work, job, TRAINING)) as events:
            for event in events:
                if event is None:  # no news: a moment where a cancelled request can end
                    yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
                elif isinstance(event, jobs.Done):
                    run = event.value
                elif isinstance(event, dict):
                    rows.append(event)
                else:
                    fraction, message = event
                    progress(fraction, desc=message)
                    yield (message, plots.loss_curve(rows) if rows else gr.skip(), gr.skip(),
                           gr.skip())
    except Stopped as error:
        why = (f"it reached the time cap of {TRAINING.max_seconds / 60:g} min"
               if job.timed_out else "it was stopped")
        raise gr.Error(f"Training stopped: {why}. Nothing was saved.") from error
    if PUBLIC:
        prune_adapters(TRAINED_DIR, TRAINED_KEEP)
    result = run.result
    metrics = pd.DataFrame([{"dataset": r["dataset"], "labels": r["label_set"],
                             "zero-shot": "yes" if r["zero_shot"] else "no",
                             **{k: round(float(r[k]), 4) for k in METRIC_COLUMNS[3:]}}
                            for r in run.metrics], columns=METRIC_COLUMNS)
    saved = run.path.stem if PUBLIC else run.path
    yield (f"Done in {result.seconds:.0f} s: best epoch {result.best_epoch}, validation "
           f"macro-F1 {result.best_val_f1:.3f}. Saved **{saved}**. Press *Use this adapter* "
           f"to switch to it."
           + (f" Not evaluated (features not cached): {', '.join(run.skipped)}."
              if run.skipped else ""),
           plots.loss_curve(run.history), metrics, str(run.path))


def stop_training(request: gr.Request = None) -> str:
    """The Stop button: stop this session's training job."""
    stopped = TRAINING.stop(session_id(request))
    return "Stopping the training job..." if stopped else "No training job of yours is running."


# ---------------------------------------------------------------------------------------------
# Layout


INTRO = """# EmoAlign: music emotions in your own words
Upload a song (or pick an example): EmoAlign maps every 10-s segment into the embedding space
of words, so it can score **any** emotion word, not only the labels it was trained on."""


def build_app() -> gr.Blocks:
    choices = vocabulary_choices()
    with gr.Blocks(title="EmoAlign", analytics_enabled=False,
                   delete_cache=(600, 1800)) as demo:  # Gradio's cache: files go after 30 min
        session = gr.State(Session())
        gr.Markdown(INTRO)
        status = gr.Markdown(elem_id="status")
        with gr.Accordion("Model", open=False):
            with gr.Row():
                encoder_in = gr.Dropdown(available_encoders(), value=ModelChoice().encoder,
                                         label="Encoder",
                                         info="musicnn runs offline on CPU; MERT-v1-95M needs "
                                              "its weights (GPU recommended)")
                adapter_in = gr.Dropdown(adapter_choices(),
                                         value=ModelChoice().adapter or ADAPTER_DEFAULT,
                                         label="Adapter", allow_custom_value=True)
                adapter_files_in = gr.File(label="...or upload one (.safetensors + .json card)",
                                           file_count="multiple", type="filepath",
                                           file_types=[".safetensors", ".json"], height=90)
                model_btn = gr.Button("Use this model")

        with gr.Tabs():
            with gr.Tab("Song -> emotions", id="song"):
                with gr.Row():
                    with gr.Column(scale=2):
                        audio_in = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                            label="Song (upload or record)", elem_id="song-audio")
                        if EXAMPLES:  # loading one into the player analyses it (change event)
                            gr.Examples(
                                [[str(e.path)] for e in EXAMPLES], inputs=[audio_in],
                                example_labels=[e.title for e in EXAMPLES],
                                label="Bundled examples")
                        vocabulary_in = gr.Dropdown(choices, value="gems", label="Vocabulary")
                        top_k_in = gr.Slider(1, 10, value=3, step=1, label="Top k",
                                             info="labels each segment votes for")
                        trim_in = gr.Checkbox(
                            False, label=f"Analyse only the first {SONG_SECONDS_CAP / 60:.0f} "
                                         f"min of longer songs")
                        analyse_btn = gr.Button("Analyse", variant="primary")
                    with gr.Column(scale=3):
                        summary_out = gr.Markdown("Results appear here.", elem_id="summary",
                                                  label="Summary")
                        bars_out = gr.Plot(plots.empty_figure("Analyse a song to see its emotions"),
                                           label="Top emotions", elem_id="bars")
                timeline_out = gr.Plot(plots.empty_figure("Per-segment timeline"),
                                       label="Timeline (10-s segments)", elem_id="timeline")
                with gr.Row():
                    table_out = gr.Dataframe(pd.DataFrame(columns=SCORE_COLUMNS),
                                             label="Scores (calibrated score; raw cosine)",
                                             interactive=False, elem_id="scores-table")
                    files_out = gr.File(label="Download scores (CSV, JSON)",
                                        file_count="multiple", interactive=False)

            with gr.Tab("Your words", id="words"):
                with gr.Row():
                    words_song = gr.Dropdown([], label="Song", allow_custom_value=True,
                                             info="an analysed song (default: the latest)")
                    words_in = gr.Textbox(DEFAULT_WORDS, lines=3, label="Emotion words or phrases",
                                          info=f"comma- or line-separated; up to {MAX_WORDS}; "
                                               f"quote a phrase to keep its commas", scale=3)
                words_btn = gr.Button("Score my words", variant="primary")
                words_notes = gr.Markdown(elem_id="words-notes")
                with gr.Row():
                    words_bars = gr.Plot(plots.empty_figure("Your words, scored"), label="Scores")
                    words_timeline = gr.Plot(plots.empty_figure("Per-segment timeline"),
                                             label="Timeline")
                words_table = gr.Dataframe(pd.DataFrame(columns=WORD_COLUMNS),
                                           label="Where each word sits",
                                           column_widths=["6%", "12%", "8%", "7%", "33%", "18%",
                                                          "10%", "6%"], interactive=False,
                                           wrap=True, elem_id="words-table")

            with gr.Tab("Label clusters", id="clusters") as clusters_tab:
                with gr.Row():
                    sets_in = gr.CheckboxGroup(choices[:-1], value=["mtg", "cal500"],
                                               label="Label sets")
                    cluster_words_in = gr.Textbox("", label="Add your own words", lines=1)
                with gr.Row():
                    bandwidth_in = gr.Slider(0.05, 1.5, value=PAPER_BANDWIDTH, step=0.0001,
                                             label="Mean Shift bandwidth",
                                             info=f"paper: {PAPER_BANDWIDTH} (its estimate on "
                                                  f"MTG + CAL500)")
                    estimate_in = gr.Checkbox(False, label="Estimate it from the chosen labels "
                                                           "instead (quantile 0.03)",
                                              info="moving the slider turns this off")
                cluster_btn = gr.Button("Cluster", variant="primary")
                cluster_counts = gr.Markdown(elem_id="cluster-counts")
                cluster_plot = gr.Plot(plots.empty_figure("Press Cluster"), label="Cluster graph",
                                       elem_id="cluster-graph")
                cluster_table = gr.Dataframe(pd.DataFrame(columns=CLUSTER_COLUMNS),
                                             label="Clusters", interactive=False, wrap=True)

            with gr.Tab("Embedding map", id="map"):
                with gr.Row():
                    map_vocab = gr.Dropdown(choices, value="gems", label="Label set")
                    colour_in = gr.Radio(["predicted emotion", "true emotion"],
                                         value="predicted emotion", label="Colour by")
                    labels_in = gr.Checkbox(True, label="Show the labels")
                map_btn = gr.Button("Draw the map", variant="primary")
                map_info = gr.Markdown(elem_id="map-info")
                map_plot = gr.Plot(plots.empty_figure("Press Draw the map"), label="Map",
                                   elem_id="map-plot")

            with gr.Tab("Search by emotion", id="search"):
                with gr.Row():
                    query_in = gr.Textbox("calm, peaceful", label="Find songs that feel...",
                                          scale=3)
                    search_btn = gr.Button("Search", variant="primary")
                search_out = gr.Dataframe(pd.DataFrame(columns=RANKING_COLUMNS),
                                          label="Library ranked by your words",
                                          interactive=False, elem_id="search-table")
                with gr.Row():
                    like_song = gr.Dropdown([], label="Songs like this one",
                                            allow_custom_value=True, scale=3)
                    like_btn = gr.Button("Find similar songs")
                like_out = gr.Dataframe(pd.DataFrame(columns=RANKING_COLUMNS),
                                        label="Most similar songs (cosine)", interactive=False,
                                        elem_id="similar-table")

            with gr.Tab("Train (advanced)", id="train"):
                datasets = shipped_datasets()
                gr.Markdown(
                    "Train a new adapter for the current encoder on the shipped datasets' train "
                    "splits and/or on your own songs (model selection on validation, "
                    "results on test), then switch to it. One training job runs at a time"
                    + (f", for at most {TRAINING.max_seconds / 60:.0f} min"
                       if TRAINING.max_seconds else "") + "."
                    + ("" if datasets else " No shipped data found: set `EMOALIGN_DATA` to a "
                       "folder holding `emotify/` and/or `4q/` (see the repository README)."))
                with gr.Accordion("Your songs: audio files (or a zip) plus a CSV of their labels",
                                  open=not datasets):
                    with gr.Row():
                        uploads_in = gr.File(label="Audio files or a zip of them",
                                             file_count="multiple", type="filepath", height=120,
                                             scale=2)
                        folder_in = gr.Textbox("", label="...or an audio folder on the server",
                                               placeholder="/data/my-songs", visible=not PUBLIC)
                        labels_csv_in = gr.File(label="Labels CSV", file_types=[".csv"],
                                                type="filepath", height=120)
                    with gr.Row():
                        file_col_in = gr.Textbox("file", label="File column",
                                                 info="path relative to the folder")
                        labels_col_in = gr.Textbox("labels", label="Labels column")
                        separator_in = gr.Textbox(";", label="Label separator")
                        split_col_in = gr.Textbox(
                            "split", label="Split column",
                            info="train / validation / test; absent: random 80/10/10")
                with gr.Row():
                    train_sets = gr.CheckboxGroup(datasets, value=[d for _, d in datasets][:1],
                                                  label="Train on (shipped datasets)")
                    targets_in = gr.Radio(["labels", "clusters"], value="labels",
                                          label="Targets", info="label embeddings, or the "
                                                                "centres of the label clusters")
                    variant_in = gr.Radio(["segment", "song"], value="segment",
                                          label="Adapter variant")
                with gr.Row():
                    lam_in = gr.Slider(0, 3, value=0.0, step=0.1, label="lambda",
                                       info="weight of the alignment regulariser (paper: 1-2.5)")
                    train_bw_in = gr.Slider(0.05, 1.5, value=PAPER_BANDWIDTH, step=0.0001,
                                            label="Cluster bandwidth")
                    epochs_in = gr.Slider(1, 100, value=20, step=1, label="Epochs (at most)")
                with gr.Row():
                    train_btn = gr.Button("Train", variant="primary", scale=3)
                    stop_btn = gr.Button("Stop", variant="stop")
                train_status = gr.Markdown()
                loss_plot = gr.Plot(plots.empty_figure("Loss curve"), label="Training")
                metrics_out = gr.Dataframe(pd.DataFrame(columns=METRIC_COLUMNS),
                                           label="Test metrics", interactive=False)
                use_btn = gr.Button("Use this adapter")
                trained_path = gr.State(None)

        gr.Markdown("API: see *Use via API* at the bottom of the page, or the API section of the README.")

        # ---- events ----
        song_outputs = [summary_out, bars_out, timeline_out, table_out, files_out]
        refresh = dict(fn=song_choices, inputs=[session], outputs=[words_song, like_song],
                       api_visibility="private", queue=False)
        show_status = dict(fn=status_text, inputs=[session], outputs=[status],
                           api_visibility="private", queue=False)
        demo.load(**show_status)

        analyse_args = dict(inputs=[audio_in, vocabulary_in, top_k_in, trim_in, session],
                            outputs=[session, *song_outputs], concurrency_limit=1,
                            concurrency_id="audio")
        analyse_btn.click(analyse, api_name="analyze", **analyse_args) \
            .then(**refresh).then(**show_status)
        audio_in.change(analyse_on_change, api_visibility="private", **analyse_args) \
            .then(**refresh).then(**show_status)
        gr.on([vocabulary_in.change, top_k_in.release], rescore,
              inputs=[vocabulary_in, top_k_in, session], outputs=song_outputs,
              api_name="rescore", concurrency_limit=4)

        gr.on([words_btn.click, words_in.submit], score_words,
              inputs=[words_in, words_song, top_k_in, session],
              outputs=[words_bars, words_timeline, words_table, words_notes],
              api_name="score_words", concurrency_limit=4).then(**show_status)

        cluster_args = dict(fn=cluster_labels,
                            inputs=[sets_in, cluster_words_in, bandwidth_in, estimate_in, session],
                            outputs=[cluster_plot, cluster_table, cluster_counts, bandwidth_in],
                            concurrency_limit=2)
        cluster_btn.click(api_name="clusters", **cluster_args).then(**show_status)
        clusters_tab.select(api_visibility="private", **cluster_args)
        bandwidth_in.release(lambda: False, outputs=[estimate_in], queue=False,
                             api_visibility="private").then(api_visibility="private",
                                                            **cluster_args)

        map_btn.click(embedding_map, inputs=[map_vocab, colour_in, labels_in, session],
                      outputs=[map_plot, map_info], api_name="embedding_map",
                      concurrency_limit=1, concurrency_id="map").then(**show_status)
        gr.on([search_btn.click, query_in.submit], search_songs, inputs=[query_in, session],
              outputs=[search_out], api_name="search", concurrency_limit=2)
        like_btn.click(similar_songs, inputs=[like_song, session], outputs=[like_out],
                       api_name="similar", concurrency_limit=2)

        model_btn.click(set_model, inputs=[encoder_in, adapter_in, session, adapter_files_in],
                        outputs=[session, status], api_name="set_model",
                        concurrency_limit=1, concurrency_id="audio").then(**refresh)
        training_event = train_btn.click(
            train_adapter,
            inputs=[train_sets, targets_in, lam_in, train_bw_in, epochs_in, variant_in, session,
                    folder_in, labels_csv_in, file_col_in, labels_col_in, separator_in,
                    split_col_in, uploads_in],
            outputs=[train_status, loss_plot, metrics_out, trained_path], api_name="train",
            concurrency_limit=2, concurrency_id="train")  # the second one hears "busy" at once
        training_event.then(lambda: gr.update(choices=adapter_choices()), outputs=[adapter_in],
                            api_visibility="private", queue=False)
        stop_btn.click(stop_training, outputs=[train_status], cancels=[training_event],
                       api_name="stop_training", queue=False)
        demo.unload(end_session)
        use_btn.click(use_trained, inputs=[trained_path, session], outputs=[session, status],
                      api_visibility="private").then(**refresh)
    return demo


@user_errors
def use_trained(path: str | None, session: Session):
    """Switch to the adapter the last training run of this session saved (a server path the
    app itself chose, so public mode allows it)."""
    if not path:
        raise gr.Error("Train an adapter first.")
    return switch_model(ModelChoice(session.model.encoder, path), session)


def preload() -> None:
    """Load the default model in the background (EMOALIGN_PRELOAD=1)."""
    threading.Thread(target=MODELS.get, args=(ModelChoice(),), daemon=True).start()


demo = build_app()

if spaces is not None and os.environ.get("SPACES_ZERO_GPU"):
    # ZeroGPU runs each @spaces.GPU call in a fork of this process: load the model here, once.
    MODELS.get(ModelChoice())

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=None,
                        help="default: $GRADIO_SERVER_PORT or 7860")
    parser.add_argument("--host", default=None, help="default: $GRADIO_SERVER_NAME or 127.0.0.1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if os.environ.get("EMOALIGN_PRELOAD") == "1":
        preload()
    demo.queue(max_size=64, default_concurrency_limit=2).launch(
        server_name=args.host, server_port=args.port, show_error=True,
        allowed_paths=[str(EXAMPLES_DIR)], max_file_size=f"{MAX_UPLOAD_MB}mb")
