"""Every benchmark in bench/ runs at a tiny size and prints its table, so a refactor cannot
break one unseen. Smoke tests only: the figures are not checked (timings are not tests);
what is checked is that each script starts, runs its real work end to end and prints the rows
its docstring promises. Without the datasets the benchmarks use the bundled examples."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow

# script, tiny arguments, text every row of its table must show up with
BENCHES = {
    "bench.py": (["--seconds", "12", "--repeat", "1", "--threads", "1"],
                 ["EmoAlign benchmark: musicnn, 12-s song", "encode", "re-score 20 new words",
                  "peak memory"]),
    "bench_cold_start.py": (["--repeat", "1", "--cpus", ""],
                            ["emoalign --help:", "emoalign predict (", "emoalign search"]),
    "bench_journey.py": (["--songs", "2000", "--plans", "2"],
                         ["2,000 synthetic songs", "20-song journeys", "60-minute journeys"]),
    "bench_library.py": (["--songs", "2000", "--queries", "3", "--store-songs", "20"],
                         ["word search, 2,000 songs", "similar song, 2,000 songs",
                          "store: 20 songs written", "store: loading the"]),
    "bench_scale.py": (["--songs", "2", "--skip-ray"], ["local engine", "songs/hour"]),
    "bench_speed.py": (["--clips", "1", "--repeat", "1", "--threads", "1", "--no-peer",
                        "--song-seconds", "12"],
                       ["piano-42s", "4q-30s", "song wav 44.1k stereo", "song opus 24k mono",
                        "Our stages on the 12-s Ogg/Opus song", "predict (all)"]),
    "bench_tonal.py": (["--seconds", "20", "--repeat", "1"],
                       ["tonal features: 2 segments of 10 s", "ms per segment"]),
}


def run_bench(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "bench" / script), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def test_every_benchmark_is_smoke_tested():
    scripts = {p.name for p in (REPO / "bench").glob("bench*.py")}
    # bench_answer.py needs the datasets' labels: tests/test_answer.py runs it at a tiny size
    assert scripts == set(BENCHES) | {"bench_tf_musicnn.py", "bench_answer.py"}


@pytest.mark.parametrize("script", sorted(BENCHES))
def test_benchmark_runs_and_prints_its_table(script):
    args, rows = BENCHES[script]
    result = run_bench(script, *args)
    assert result.returncode == 0, result.stderr[-3000:]
    missing = [row for row in rows if row not in result.stdout]
    assert not missing, (missing, result.stdout[-3000:])
    assert "Traceback" not in result.stderr


def test_tensorflow_benchmark_starts():
    """The TensorFlow peer runs only in a throw-away virtualenv with TensorFlow and the musicnn
    wheel (tools/convert_musicnn.py; TensorFlow is no dependency), so only its command line is
    checked here: it parses before TensorFlow is imported."""
    result = run_bench("bench_tf_musicnn.py", "--help")
    assert result.returncode == 0 and "--threads" in result.stdout, result.stderr[-2000:]
