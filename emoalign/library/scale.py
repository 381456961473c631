"""Indexing on Ray Data: the same rows as the local engine, computed by an actor pool (one
EmotionPipeline per actor) over `read_binary_files`, written by the driver into the library
as they arrive (one transaction per song, so a stopped run resumes like a local one).

    emoalign index s3://bucket/music --engine ray          # RAY_ADDRESS=ray://head:10001 for a cluster

Folders are local paths or any URI pyarrow's filesystems read (s3://, gs://, hdfs://...);
credentials come from the usual environment of those filesystems. Without RAY_ADDRESS Ray
starts a local cluster on this machine. Ray is the optional extra `pip install emoalign[ray]`.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import PurePosixPath

from .indexing import (AUDIO_EXTENSIONS, IndexingError, IndexReport, failure_reason,
                       scored_labels, song_row)
from .store import Library, SongRow

RAY_MISSING = "The Ray engine needs Ray: pip install 'emoalign[ray]' (or ray[data])."
ACTOR_THREADS = 1  # torch threads per actor: parallelism comes from the actor count
ACTOR_CPUS = 1


def list_audio(root: str):
    """(pyarrow filesystem, base path, [file paths]) of the audio files under `root`."""
    import pyarrow.fs as pafs
    if "://" in root:
        fs, base = pafs.FileSystem.from_uri(root)
    else:
        fs, base = pafs.LocalFileSystem(), os.path.abspath(root)
    info = fs.get_file_info(base)
    if info.type != pafs.FileType.Directory:
        raise IndexingError(f"{PurePosixPath(base).name or root} is not a folder.")
    files = sorted(f.path for f in fs.get_file_info(pafs.FileSelector(base, recursive=True))
                   if f.type == pafs.FileType.File and not PurePosixPath(f.path).name.startswith(".")
                   and PurePosixPath(f.path).suffix.lower() in AUDIO_EXTENSIONS
                   and not any(p.startswith(".") for p in PurePosixPath(f.path).relative_to(base).parts))
    return fs, base, files


class IndexActor:
    """One pipeline per actor; each batch of files in -> one record per file out:
    kind "song" (the row's fields), "known" (hash already indexed) or "error"."""

    def __init__(self, base: str, encoder: str, adapter: str | None, known: set[str]):
        import torch
        from ..answer.pipeline import EmotionPipeline
        torch.set_num_threads(ACTOR_THREADS)
        self.base, self.known = base, known
        self.pipe = EmotionPipeline(encoder=encoder, adapter=adapter, device="cpu")

    def __call__(self, batch: dict) -> dict:
        import hashlib
        out = []
        for data, path in zip(batch["bytes"], batch["path"]):
            relpath = str(PurePosixPath(path).relative_to(self.base))
            digest = hashlib.sha256(data).hexdigest()
            out.append(self._one(bytes(data), relpath, digest))
        return {key: [r.get(key, "") for r in out] for key in ("kind", "path", "hash", "reason",
                                                                 "row")}

    def _one(self, data: bytes, relpath: str, digest: str) -> dict:
        if digest in self.known:
            return {"kind": "known", "path": relpath, "hash": digest}
        suffix = PurePosixPath(relpath).suffix
        try:
            with tempfile.NamedTemporaryFile(suffix=suffix) as f:  # decoders read files
                f.write(data)
                f.flush()
                song = self.pipe.analyze(f.name, name=relpath)
            row = song_row(self.pipe, song, digest, relpath)
            return {"kind": "song", "path": relpath, "hash": digest, "row": row.to_json()}
        except Exception as error:  # noqa: BLE001 - recorded in the errors table
            return {"kind": "error", "path": relpath, "hash": digest,
                    "reason": failure_reason(error)}


def index_with_ray(root: str, library: Library, encoder: str = "musicnn",
                   adapter: str | None = None,
                   actors: int | None = None, progress: bool = True) -> IndexReport:
    """Index `root` (a local folder or a pyarrow URI) into `library` on Ray Data."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise IndexingError(RAY_MISSING) from None
    fs, base, files = list_audio(root)
    if not files:
        raise IndexingError(f"No audio files in {PurePosixPath(base).name or root}.")
    start = time.perf_counter()
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    sha = _adapter_sha256(encoder, adapter)
    known = library.complete_hashes(encoder, sha)
    actors = actors or max(1, int(ray.available_resources().get("CPU", 1)))
    ray.data.DataContext.get_current().enable_progress_bars = progress
    # Reading is I/O: it asks for no CPU, so the actors may hold them all without starving it.
    dataset = ray.data.read_binary_files(files, filesystem=fs, include_paths=True,
                                         num_cpus=0)
    rows = dataset.map_batches(
        IndexActor, batch_size=1, num_cpus=ACTOR_CPUS, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=min(actors, len(files))),
        fn_constructor_kwargs={"base": base, "encoder": encoder, "adapter": adapter,
                               "known": known})
    report = IndexReport(present=[str(PurePosixPath(f).relative_to(base)) for f in files])
    labels = scored_labels()
    for record in rows.iter_rows():
        _write(library, dict(record), labels, report, known)
    report.seconds = time.perf_counter() - start
    return report


def _write(library: Library, record: dict, labels: list[str], report: IndexReport,
           known: set[str]) -> None:
    kind, path, digest = record["kind"], record["path"], record["hash"]
    if kind == "song":
        if digest in known:  # a duplicate another actor brought first in this run
            library.add_path(path, digest)
            report.duplicates += 1
            return
        library.add(SongRow.from_json(record["row"]), labels)
        known.add(digest)
        report.added += 1
    elif kind == "known":
        library.add_path(path, digest)
        report.skipped += 1
    else:
        library.add_error(path, record["reason"])
        report.failed.append((path, record["reason"]))


def _adapter_sha256(encoder: str, adapter: str | None) -> str:
    from ..answer.adapter import load_adapter
    return load_adapter(adapter or f"{encoder}-default", device="cpu")[1]["sha256"]
