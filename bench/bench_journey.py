"""Mood journeys: how fast a journey is planned over a big library, and how smooth it is on a
real one.

    python bench/bench_journey.py [--songs 100000] [--length 20] [--plans 30]
                                  [--db LIBRARY.db] [--real-length 10] [--draws 50]

Speed: `--songs` synthetic songs (valence/arousal uniform on the plane, random unit 384-d
embeddings, durations of 2-6 min, albums of 10 songs; timing does not depend on what they
are). `--plans` journeys of `--length` songs between random endpoints, then 60-minute ones;
prints p50/p95/max of `journey.plan` alone (loading the library is `bench_library.py`'s).

Smoothness (with `--db`, a library indexed with `emoalign index`): journeys of
`--real-length` songs between the quadrant centres (+-0.6, +-0.6): Q3->Q1, Q1->Q3, Q2->Q4,
Q4->Q2, Q3->Q4 and a mood-steady Q4->Q4, each three ways:
  journey  journey.plan (beam search: on the path, steady steps, sounding alike)
  greedy   the greedy nearest-neighbour baseline: at each waypoint the nearest unused song
  random   `--draws` random orders of random songs
and prints, averaged over the journeys, the mean and largest step on the plane, how far the
songs sit from the path, the cosine of neighbouring songs' embeddings, and how many
neighbours share an album folder.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from emoalign.library.journey import (Endpoint, Journey, Pool, journey_of, plan, plan_minutes,
                                      waypoints)  # noqa: E402

CORNER = 0.6
PAIRS = {"Q3->Q1": ((-1, -1), (1, 1)), "Q1->Q3": ((1, 1), (-1, -1)),
         "Q2->Q4": ((-1, 1), (1, -1)), "Q4->Q2": ((1, -1), (-1, 1)),
         "Q3->Q4": ((-1, -1), (1, -1)), "Q4->Q4": ((1, -1), (1, -1))}


def synthetic_pool(n: int, seed: int = 0) -> Pool:
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n, 384), dtype=np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return Pool([f"song{i}.ogg" for i in range(n)], rng.uniform(-1, 1, (n, 2)), emb,
                rng.uniform(120, 360, n), [f"album{i // 10}" for i in range(n)])


def ms(times: list[float]) -> str:
    t = sorted(1000 * x for x in times)
    return (f"p50 {statistics.median(t):.0f} ms, p95 {t[min(len(t) - 1, int(0.95 * len(t)))]:.0f}"
            f" ms, max {t[-1]:.0f} ms")


def bench_speed(songs: int, length: int, plans: int) -> None:
    start = time.perf_counter()
    pool = synthetic_pool(songs)
    print(f"speed: {songs:,} synthetic songs (made in {time.perf_counter() - start:.1f} s)")
    rng = np.random.default_rng(1)
    ends = rng.uniform(-1, 1, (plans, 2, 2))
    plan(pool, Endpoint("a", (0, 0)), Endpoint("b", (0.5, 0.5)), length)  # warm-up
    for label, run in ((f"{length}-song journeys", lambda a, b: plan(pool, a, b, length)),
                       ("60-minute journeys", lambda a, b: plan_minutes(pool, a, b, 60))):
        times, sizes = [], []
        for (v0, a0), (v1, a1) in ends:
            t = time.perf_counter()
            journey = run(Endpoint("from", (v0, a0)), Endpoint("to", (v1, a1)))
            times.append(time.perf_counter() - t)
            sizes.append(len(journey))
        print(f"  {label} ({min(sizes)}-{max(sizes)} songs): {ms(times)}")


def greedy(pool: Pool, start: Endpoint, end: Endpoint, length: int) -> Journey:
    """At each waypoint the nearest song not used yet (the greedy nearest-neighbour baseline)."""
    path = waypoints(start.point, end.point, length)
    free = np.ones(len(pool), bool)
    rows = []
    for point in path:
        d = ((pool.va - point) ** 2).sum(axis=1)
        d[~free] = np.inf
        rows.append(int(np.argmin(d)))
        free[rows[-1]] = False
    return journey_of(pool, rows, path, start, end)


def random_order(pool: Pool, start: Endpoint, end: Endpoint, length: int, rng) -> Journey:
    rows = rng.choice(len(pool), size=length, replace=False)
    return journey_of(pool, list(rows), waypoints(start.point, end.point, length), start, end)


def figures(journey: Journey, pool: Pool) -> np.ndarray:
    codes = pool.album_codes[journey.rows]
    same = int(((codes[1:] == codes[:-1]) & (codes[1:] >= 0)).sum())
    return np.array([journey.mean_step, journey.max_step, float(journey.off_path.mean()),
                     float(journey.similarity.mean()), same])


def bench_smoothness(db: Path, length: int, draws: int) -> None:
    from emoalign.library.store import Library
    from emoalign.library.playlist import library_pool
    with Library(db, create=False) as library:
        pool, _, _ = library_pool(library.index())
    albums = len({a for a in pool.albums if a})
    print(f"\nsmoothness: {db.name}, {len(pool)} songs in {albums} album folders, "
          f"{length}-song journeys between quadrant centres (+-{CORNER}): {', '.join(PAIRS)}")
    rng = np.random.default_rng(0)
    results = {"journey": [], "greedy": [], "random": []}
    for name, (a, b) in PAIRS.items():
        start = Endpoint(name[:2], (CORNER * a[0], CORNER * a[1]))
        end = Endpoint(name[-2:], (CORNER * b[0], CORNER * b[1]))
        results["journey"].append(figures(plan(pool, start, end, length), pool))
        results["greedy"].append(figures(greedy(pool, start, end, length), pool))
        results["random"].append(np.mean([figures(random_order(pool, start, end, length, rng),
                                                  pool) for _ in range(draws)], axis=0))
    print(f"  {'method':<8} {'mean step':>9} {'largest':>8} {'off path':>8} {'alike':>6} "
          f"{'same album':>10}")
    for method, rows in results.items():
        m = np.mean(rows, axis=0)
        print(f"  {method:<8} {m[0]:>9.3f} {m[1]:>8.3f} {m[2]:>8.3f} {m[3]:>6.3f} {m[4]:>10.2f}")
    ideal = np.mean([np.linalg.norm(np.subtract(b, a)) * CORNER / (length - 1)
                     for a, b in PAIRS.values()])
    print(f"  (the path's own step: {ideal:.3f}; 'alike': mean cosine of neighbours' "
          f"embeddings; 'same album': neighbours from one folder, per journey)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--songs", type=int, default=100_000)
    parser.add_argument("--length", type=int, default=20)
    parser.add_argument("--plans", type=int, default=30)
    parser.add_argument("--db", type=Path, help="an indexed library for the smoothness figures")
    parser.add_argument("--real-length", type=int, default=10)
    parser.add_argument("--draws", type=int, default=50)
    args = parser.parse_args()
    bench_speed(args.songs, args.length, args.plans)
    if args.db:
        bench_smoothness(args.db, args.real_length, args.draws)


if __name__ == "__main__":
    main()
