"""Mood journeys: an ordered playlist whose valence/arousal moves steadily from one point of
the plane to another, through songs that also sound alike.

The path is the straight line from the start to the end on the valence/arousal plane, cut into
one waypoint per song (a start equal to the end gives a mood-steady mix). A beam search picks
one song per waypoint; a partial playlist costs, summed over its songs,

    |va - waypoint|^2                        the song sits on the path
    STEADY_WEIGHT * |move - ideal move|^2    each step is the path's step (steady pace)
    SOUND_WEIGHT * (1 - cosine)              it sounds like the song before (song embeddings)
    ALBUM_PENALTY                            it comes from the previous song's album folder
                                             (so large that it happens only where the
                                             library leaves no other way)

with plane distances in valence/arousal units ([-1, 1]). No song is used twice: each partial
playlist keeps its history, and every waypoint offers at least as many candidates (its nearest
songs on the plane) as the playlist has songs, so a path never runs out. A song named as the
start or the end is pinned there. Pure numpy; nothing here reads files or loads a model
(playlist.py turns what users type into endpoints and writes M3U8).

>>> pool = Pool(names, va, embeddings, durations, albums)
>>> journey = plan(pool, Endpoint("sad", (-0.6, -0.4)), Endpoint("calm", (0.5, -0.5)), 10)
>>> journey.rows, journey.steps, journey.total_s
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

BEAM = 16  # partial playlists kept at each step
CANDIDATES = 48  # songs nearest a waypoint (on the plane) offered for it, at least the length
STEADY_WEIGHT = 1.0  # squared gap between a step and the path's step
SOUND_WEIGHT = 0.1  # (1 - cosine) with the previous song, in squared plane units
ALBUM_PENALTY = 100.0  # same album folder as the previous song: a rule, broken only where
                       # no other candidate is left (any detour on the plane costs less)
MIN_SONGS = 2  # a journey goes from somewhere to somewhere
DEFAULT_LENGTH = 10
MINUTES_TRIES = 6  # plans tried to come closest to --minutes


class JourneyError(ValueError):
    """A journey that cannot be made (library too small, too long, unknown song...); the
    message is for users and names no server path."""


@dataclass
class Pool:
    """The songs a journey picks from."""
    names: list[str]  # what users see (library path, session name, "Artist - Title")
    va: np.ndarray  # (N, 2) valence, arousal in [-1, 1]
    embeddings: np.ndarray  # (N, D) unit song embeddings
    durations: np.ndarray  # (N,) seconds
    albums: list[str | None] | None = None  # album folder per song; None never clashes
    album_codes: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.va = np.asarray(self.va, np.float64).reshape(-1, 2)
        self.embeddings = np.asarray(self.embeddings, np.float32)
        self.durations = np.asarray(self.durations, np.float64).reshape(-1)
        if not (len(self.names) == len(self.va) == len(self.embeddings) == len(self.durations)):
            raise ValueError("names, va, embeddings and durations must have one row per song")
        codes: dict[str, int] = {}
        self.album_codes = np.array([-1 if a is None else codes.setdefault(a, len(codes))
                                     for a in (self.albums or [None] * len(self.names))], np.int64)

    def __len__(self) -> int:
        return len(self.names)


@dataclass
class Endpoint:
    """Where a journey starts or ends: a point of the plane, maybe a song pinned there."""
    label: str  # as the user named it ("sad", "-0.6,-0.4", a song's name)
    point: tuple[float, float]  # valence, arousal
    song: int | None = None  # the pool row pinned at this end
    kind: str = "point"  # "point", "words" or "song"

    def to_dict(self) -> dict:
        return {"label": self.label, "kind": self.kind, "valence": round(self.point[0], 4),
                "arousal": round(self.point[1], 4)}


@dataclass
class Journey:
    rows: list[int]  # pool rows, in play order
    waypoints: np.ndarray  # (L, 2) the path's points
    va: np.ndarray  # (L, 2) the songs' valence/arousal
    steps: np.ndarray  # (L - 1,) plane distance from each song to the next
    similarity: np.ndarray  # (L - 1,) cosine of each song's embedding with the next one's
    durations: np.ndarray  # (L,) seconds
    start: Endpoint
    end: Endpoint

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def total_s(self) -> float:
        return float(self.durations.sum())

    @property
    def mean_step(self) -> float:
        return float(self.steps.mean()) if len(self.steps) else 0.0

    @property
    def max_step(self) -> float:
        return float(self.steps.max()) if len(self.steps) else 0.0

    @property
    def off_path(self) -> np.ndarray:
        """(L,) plane distance of each song from its waypoint."""
        return np.linalg.norm(self.va - self.waypoints, axis=1)

    def to_dict(self, pool: Pool) -> dict:
        """The journey for machines (what `emoalign journey --json` prints)."""
        songs = [{"position": k + 1, "song": pool.names[r], "valence": round(float(v), 4),
                  "arousal": round(float(a), 4), "duration_s": round(float(d), 2),
                  "step": None if k == 0 else round(float(self.steps[k - 1]), 4),
                  "similarity": None if k == 0 else round(float(self.similarity[k - 1]), 4)}
                 for k, (r, (v, a), d) in enumerate(zip(self.rows, self.va, self.durations))]
        return {"from": self.start.to_dict(), "to": self.end.to_dict(), "songs": songs,
                "total_s": round(self.total_s, 2), "mean_step": round(self.mean_step, 4),
                "max_step": round(self.max_step, 4),
                "mean_similarity": round(float(self.similarity.mean()), 4)
                if len(self.similarity) else None}


def waypoints(start: tuple[float, float], end: tuple[float, float], n: int) -> np.ndarray:
    """(n, 2) evenly spaced points on the straight line from `start` to `end`."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) * np.asarray(start, np.float64) + t * np.asarray(end, np.float64)


def journey_of(pool: Pool, rows: list[int], path: np.ndarray, start: Endpoint,
               end: Endpoint) -> Journey:
    """The journey that plays `rows` along `path` (any order: the benchmark's baselines too)."""
    va = pool.va[rows]
    emb = pool.embeddings[rows]
    return Journey(list(map(int, rows)), path, va, np.linalg.norm(np.diff(va, axis=0), axis=1),
                   np.einsum("ij,ij->i", emb[:-1], emb[1:]).astype(np.float64),
                   pool.durations[rows], start, end)


def usable_rows(pool: Pool, exclude=()) -> np.ndarray:
    keep = np.ones(len(pool), bool)
    keep[list(exclude)] = False
    return np.flatnonzero(keep)


def plan(pool: Pool, start: Endpoint, end: Endpoint, length: int = DEFAULT_LENGTH,
         exclude=(), beam: int = BEAM, candidates: int = CANDIDATES) -> Journey:
    """The best `length`-song journey from `start` to `end` (see the module's docstring);
    `exclude`: pool rows to leave out (songs gone from disk)."""
    length = int(length)
    free = usable_rows(pool, exclude)
    if len(free) < MIN_SONGS:
        raise JourneyError(f"A journey needs at least {MIN_SONGS} songs; the library has "
                           f"{len(free)}. Add music with `emoalign index FOLDER`.")
    if length < MIN_SONGS:
        raise JourneyError(f"A journey has at least {MIN_SONGS} songs (asked for {length}).")
    if length > len(free):
        raise JourneyError(f"{length} songs asked for, but the library has only {len(free)}.")
    pins = {0: start.song, length - 1: end.song}
    if start.song is not None and start.song == end.song:
        pins[length - 1] = None  # from a song back to itself: a mix around it, pinned once
    pinned = {s for s in pins.values() if s is not None}
    free = free[~np.isin(free, list(pinned))]
    path = waypoints(start.point, end.point, length)
    k = min(len(free), max(candidates, length))
    free_v, free_a = np.ascontiguousarray(pool.va[free].T)
    last = cost = None
    history: list[list[int]] = []
    for t in range(length):
        cand = (np.array([pins[t]]) if pins.get(t) is not None else
                _nearest(free_v, free_a, path[t], k, free))
        place = ((pool.va[cand] - path[t]) ** 2).sum(axis=1)
        if t == 0:
            total = place[None]
        else:
            move = pool.va[cand][None] - pool.va[last][:, None]  # (B, K, 2)
            steady = ((move - (path[t] - path[t - 1])) ** 2).sum(axis=2)
            sound = 1.0 - pool.embeddings[last] @ pool.embeddings[cand].T
            a_prev, a_cand = pool.album_codes[last][:, None], pool.album_codes[cand][None]
            album = (a_prev == a_cand) & (a_cand >= 0)
            total = (cost[:, None] + place + STEADY_WEIGHT * steady + SOUND_WEIGHT * sound
                     + ALBUM_PENALTY * album)
            for b, used in enumerate(map(set, history)):
                total[b, [c in used for c in cand.tolist()]] = np.inf
        keep = np.argsort(total, axis=None, kind="stable")[:beam]
        keep = keep[np.isfinite(total.reshape(-1)[keep])]
        b_of, c_of = np.unravel_index(keep, total.shape)
        history = [(history[b] if t else []) + [int(cand[c])] for b, c in zip(b_of, c_of)]
        last = cand[c_of]
        cost = total[b_of, c_of]
    return journey_of(pool, history[int(np.argmin(cost))], path, start, end)


def _nearest(v: np.ndarray, a: np.ndarray, point: np.ndarray, k: int, rows: np.ndarray
             ) -> np.ndarray:
    """The `k` rows (of `rows`, at valence `v` and arousal `a`) nearest `point`, nearest
    first."""
    d = (v - point[0]) ** 2 + (a - point[1]) ** 2
    best = np.argpartition(d, k - 1)[:k] if k < len(d) else np.arange(len(d))
    return rows[best[np.argsort(d[best], kind="stable")]]


def plan_minutes(pool: Pool, start: Endpoint, end: Endpoint, minutes: float,
                 exclude=()) -> Journey:
    """The journey whose songs' real durations add up closest to `minutes`."""
    target = float(minutes) * 60
    free = usable_rows(pool, exclude)
    held = float(pool.durations[free].sum())
    if not target > 0:
        raise JourneyError("Ask for a journey of more than 0 minutes.")
    if target > held:
        raise JourneyError(f"{minutes:g} min asked for, but the library holds "
                           f"{held / 60:.1f} min of music.")
    mean = held / max(len(free), 1)
    length = int(np.clip(round(target / mean), MIN_SONGS, max(len(free), MIN_SONGS)))
    best, tried = None, set()
    for _ in range(MINUTES_TRIES):
        tried.add(length)
        journey = plan(pool, start, end, length, exclude)
        if best is None or abs(journey.total_s - target) < abs(best.total_s - target):
            best = journey
        per_song = journey.total_s / len(journey)
        length = int(np.clip(length + round((target - journey.total_s) / per_song),
                             MIN_SONGS, len(free)))
        if length in tried:
            break
    return best


def plan_present(pool: Pool, start: Endpoint, end: Endpoint, length: int | None = None,
                 minutes: float | None = None,
                 present: Callable[[int], bool] = lambda row: True) -> tuple[Journey, list[int]]:
    """`plan` (or `plan_minutes` when `minutes` is given) over the songs still there:
    a chosen song whose file is gone (`present(row)` false) is left out and the journey
    planned again. Returns the journey and the rows found missing."""
    for pinned in (start.song, end.song):
        if pinned is not None and not present(pinned):
            raise JourneyError(f"{pool.names[pinned]} is no longer on disk; rerun "
                               f"`emoalign index FOLDER --prune`, or pick another song.")
    missing: list[int] = []
    while True:
        journey = (plan_minutes(pool, start, end, minutes, missing) if minutes else
                   plan(pool, start, end, DEFAULT_LENGTH if length is None else length,
                        missing))
        gone = [r for r in journey.rows if not present(r)]
        if not gone:
            return journey, missing
        missing += gone
