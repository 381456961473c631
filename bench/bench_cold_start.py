"""Cold start: the wall time of a fresh `emoalign` process, from launch to its first answer.

    python bench/bench_cold_start.py [--repeat 3] [--cpus 0,1]

Times, each in a new Python process (median of --repeat): `emoalign --help`; `emoalign
predict` on a short clip (the first 10 s of the first bundled example, written to a
temporary WAV) with --json; `emoalign search`
on the reference corpus. Target for predict: <= 3 s on 2 cores. `--cpus` pins the processes
to those cores (taskset) so a bigger machine measures like a 2-core one.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHORT_SECONDS = 10


def wall(command: list[str], repeat: int, cpus: str | None) -> list[float]:
    if cpus and shutil.which("taskset"):
        command = ["taskset", "-c", cpus, *command]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpus", default="0,1", help="cores to pin to (default 0,1; '' for none)")
    args = parser.parse_args()
    import json
    import tempfile

    import soundfile as sf
    examples = REPO / "assets" / "examples"
    source = examples / json.loads((examples / "examples.json").read_text())[0]["file"]
    samples, rate = sf.read(str(source), frames=SHORT_SECONDS * sf.info(str(source)).samplerate)
    clip = Path(tempfile.mkdtemp()) / "short.wav"
    sf.write(str(clip), samples, rate)
    cli = [sys.executable, "-m", "emoalign.cli"]
    print(f"{time.strftime('%Y-%m-%d')}, pinned to cores {args.cpus or 'all'}, "
          f"median of {args.repeat} fresh processes")
    cases = [("emoalign --help", [*cli, "--help"]),
             (f"emoalign predict ({SHORT_SECONDS}-s clip of {source.name}) --json",
              [*cli, "predict", str(clip), "--json"]),
             ('emoalign search "calm" --reference', [*cli, "search", "calm", "--reference"])]
    for name, command in cases:
        times = wall(command, args.repeat, args.cpus)
        print(f"{name}: {statistics.median(times):.2f} s (min {min(times):.2f} s)")


if __name__ == "__main__":
    main()
