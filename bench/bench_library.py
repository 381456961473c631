"""Search speed of the library at 100k songs, and what the SQLite store costs.

    python bench/bench_library.py [--songs 100000] [--queries 200] [--store-songs 20000] [--threads 2]

Search: `--songs` random unit vectors stand in for song embeddings (timing does not depend on
what they are). A word search is what `emoalign search` does after loading: embed the query
words with the real text model (the text cache is off, so every query pays for it; one torch
thread, as `emoalign search` uses), then one matmul (numpy's BLAS threads) and a top-10; similar is the matmul and top-10 for a stored song. Prints p50/p95.

Store: writes `--store-songs` rows of a realistic size (a 3-minute song: 18 segments, every
built-in label's scores) one transaction each into a real SQLite library, then times loading
the embedding matrix back (the first step of every search) and extrapolates it to `--songs`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SEGMENTS = 18  # a 3-minute song
TOP = 10


def percentiles(times: list[float]) -> str:
    ms = sorted(1000 * t for t in times)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"p50 {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms"


def unit_rows(rng, n: int, dim: int = 384) -> np.ndarray:
    rows = rng.standard_normal((n, dim), dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def bench_search(songs: int, queries: int) -> None:
    from emoalign.text.labels import load_label_set
    from emoalign.library.search import SongIndex
    from emoalign.text.encoder import TextEncoder
    rng = np.random.default_rng(0)
    index = SongIndex("library", [f"song{i}.ogg" for i in range(songs)], unit_rows(rng, songs))
    text = TextEncoder(cache_size=0)  # no cache: every query embeds its words
    text.embed(["warm-up"])
    labels = list(load_label_set("all").labels)
    word, word_cpu, similar, similar_cpu = [], [], [], []
    for q in range(queries):
        words = [labels[i] for i in rng.choice(len(labels), size=1 + q % 3, replace=False)]
        start, cpu = time.perf_counter(), time.process_time()
        index.search(text.embed(words), TOP)
        word.append(time.perf_counter() - start)
        word_cpu.append(time.process_time() - cpu)
        row = int(rng.integers(songs))
        start, cpu = time.perf_counter(), time.process_time()
        index.search(index.embeddings[row], TOP, exclude=row)
        similar.append(time.perf_counter() - start)
        similar_cpu.append(time.process_time() - cpu)
    # CPU time (all threads) does not grow when other jobs share the cores; wall time does.
    print(f"word search, {songs:,} songs, 1-3 words embedded per query: wall "
          f"{percentiles(word)}; CPU {percentiles(word_cpu)}")
    print(f"similar song, {songs:,} songs: wall {percentiles(similar)}; CPU "
          f"{percentiles(similar_cpu)}")


def bench_store(store_songs: int, songs: int) -> None:
    from emoalign.library.indexing import scored_labels
    from emoalign.library.store import Library, SongRow
    rng = np.random.default_rng(1)
    labels = scored_labels()
    with tempfile.TemporaryDirectory() as folder:
        library = Library(Path(folder) / "bench.db")
        start = time.perf_counter()
        for i in range(store_songs):
            segments = unit_rows(rng, SEGMENTS)
            library.add(SongRow(f"{i:064x}", f"song{i}.ogg", 180.0, segments[0],
                                np.arange(SEGMENTS) * 10.0, np.zeros(SEGMENTS, bool), segments,
                                0.1, 0.2, np.zeros((SEGMENTS, 2)), rng.random(len(labels)),
                                rng.random(len(labels)), True, "musicnn", "sha"), labels)
        write = time.perf_counter() - start
        size = (Path(folder) / "bench.db").stat().st_size
        library.close()
        start = time.perf_counter()
        with Library(Path(folder) / "bench.db", create=False) as library:
            index = library.index()
        load = time.perf_counter() - start
    print(f"store: {store_songs:,} songs written one transaction each in {write:.1f} s "
          f"({1000 * write / store_songs:.2f} ms per song), {size / store_songs / 1024:.1f} KiB "
          f"per song on disk")
    print(f"store: loading the {len(index):,} x 384 matrix {load:.2f} s "
          f"(~{load * songs / store_songs:.1f} s projected for {songs:,} songs, once per process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--songs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--store-songs", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for the text model (default 1, as `emoalign search`)")
    args = parser.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    print(f"{args.threads} torch threads; {time.strftime('%Y-%m-%d')}")
    bench_search(args.songs, args.queries)
    if args.store_songs:
        bench_store(args.store_songs, args.songs)


if __name__ == "__main__":
    main()
