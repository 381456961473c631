"""Serving helpers with no science in them: one stoppable training job at a time, and
per-session folders for files handed to a browser (removed when the session ends).
"""

from __future__ import annotations

import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


class Busy(ValueError):
    """Another job holds the slot; the message is written for the user."""


@dataclass
class Job:
    owner: str  # who started it (a session id)
    max_seconds: float | None  # time cap; None: none
    started: float = field(default_factory=time.monotonic)
    stop_flag: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        self.stop_flag.set()

    @property
    def timed_out(self) -> bool:
        return self.max_seconds is not None and time.monotonic() - self.started > self.max_seconds

    def should_stop(self) -> bool:
        """What a worker asks every batch: stop requested, or the time cap reached."""
        return self.stop_flag.is_set() or self.timed_out


class JobSlot:
    """At most one job at a time (training takes every core). The slot is held until the
    job's worker has really ended, not merely until its request went away.

    >>> slot = JobSlot(max_seconds=600)
    >>> job = slot.start("session-1")             # Busy if another job runs
    >>> job.should_stop()                         # the worker's check, every batch
    False
    >>> slot.release(job)
    """

    def __init__(self, max_seconds: float | None = None) -> None:
        self.max_seconds = max_seconds
        self._lock = threading.Lock()
        self.current: Job | None = None

    def start(self, owner: str | None) -> Job:
        with self._lock:
            if self.current is not None:
                raise Busy("Another training job is running; only one runs at a time. "
                           "Try again when it has finished.")
            self.current = Job(owner or "", self.max_seconds)
            return self.current

    def release(self, job: Job) -> None:
        """Free the slot once `job`'s worker has ended."""
        job.stop()
        with self._lock:
            if self.current is job:
                self.current = None

    def stop(self, owner: str | None = None) -> bool:
        """Ask the running job to stop (only if `owner` started it, when given)."""
        job = self.current
        if job is None or (owner is not None and job.owner != owner):
            return False
        job.stop()
        return True


@dataclass
class Done:
    """The last event of `stream`: what the work returned."""
    value: object


def stream(work: Callable[[Callable[[object], None]], object], job: Job, slot: JobSlot,
           tick: float = 1.0) -> Iterator[object]:
    """Start `work(emit)` in a thread now; iterate over what it emits (None every `tick` s
    without news, so that a consumer can be interrupted), then `Done(its result)`; its
    exception is raised in the consumer. The slot is released when the worker ends. Closing
    the iterator early (a cancelled request) asks the job to stop at its next check."""
    events: queue.Queue = queue.Queue()
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = work(events.put)
        except BaseException as error:  # raised again in the consumer's thread
            outcome["error"] = error
        finally:
            slot.release(job)

    worker = threading.Thread(target=run, daemon=True, name=f"job-{job.owner}")
    try:
        worker.start()
    except BaseException:
        slot.release(job)
        raise
    return _events(worker, events, outcome, job, tick)


def _events(worker: threading.Thread, events: queue.Queue, outcome: dict, job: Job,
            tick: float) -> Iterator[object]:
    try:
        while worker.is_alive() or not events.empty():
            try:
                yield events.get(timeout=tick)
            except queue.Empty:
                yield None
    finally:
        if worker.is_alive():  # closed early: the request is gone
            job.stop()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    yield Done(outcome.get("value"))


_SAFE = re.compile(r"[^A-Za-z0-9_-]")


class SessionFiles:
    """A folder per session under `root` for the files handed out to that session.

    `fresh(session)` gives a new sub-folder and deletes all but the newest `keep` of that
    session's earlier ones, `remove(session)` deletes the session's folder when the session
    ends, `sweep(max_age)` deletes folders of sessions that ended without saying so (`fresh`
    runs it every `max_age / 10` s).
    """

    def __init__(self, root: str | Path, keep: int = 4, max_age: float = 7200.0) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self.max_age = max_age
        self._swept = time.monotonic()

    def folder(self, session: str | None) -> Path:
        name = _SAFE.sub("", session or "")[:64] or "anonymous"
        return self.root / name

    def fresh(self, session: str | None) -> Path:
        if time.monotonic() - self._swept > self.max_age / 10:
            self._swept = time.monotonic()
            self.sweep(self.max_age)
        folder = self.folder(session)
        folder.mkdir(parents=True, exist_ok=True)
        new = Path(tempfile.mkdtemp(dir=folder, prefix=f"{time.time_ns():020d}-"))
        older = sorted(p for p in folder.iterdir() if p != new)
        for old in older[:max(0, len(older) - (self.keep - 1))]:
            shutil.rmtree(old, ignore_errors=True)
        return new

    def remove(self, session: str | None) -> None:
        shutil.rmtree(self.folder(session), ignore_errors=True)

    def sweep(self, max_age: float) -> int:
        """Delete session folders untouched for `max_age` seconds; returns how many."""
        removed = 0
        now = time.time()
        for folder in self.root.iterdir():
            try:
                if now - folder.stat().st_mtime > max_age:
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed
