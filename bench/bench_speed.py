"""Analysis speed per clip and per format, ours and VibeNet's side by side in one run.

    python bench/bench_speed.py [--clips 4] [--repeat 3] [--threads 2] [--no-peer] [--app-threads]

Ours is the whole product path, `EmotionPipeline().predict(path)`: decode + resample, musicnn,
adapter, tonal features, calibrated GEMS-9 scores and valence/arousal, with one torch thread
beside ONNX Runtime's as `emoalign predict` and `index` run it (`pipeline.analysis_only`;
`--app-threads` keeps torch's threads as the app does). The peer is VibeNet
(PyPI `vibenet`, ONNX, GPL-3): timed only when it is installed, never a dependency.

Clips, built in a temporary folder from real audio ($EMOALIGN_DATA or ../shared/data; the
bundled examples stand in for a dataset that is not there, and the table says so):
  - piano-42s: 42-s excerpts of MemoMusic piano recordings, as FLAC;
  - 4q-30s: 4Q clips as they are (Ogg/Opus, 24 kHz);
  - song-180s.<fmt>: a 3-minute song of joined Emotify clips as 44.1-kHz stereo WAV, FLAC, MP3
    and Ogg/Vorbis (ffmpeg writes MP3 and Vorbis; without it they are skipped), and 24-kHz
    Ogg/Opus as the datasets ship.
Every clip runs --repeat times after one warm-up, ours and the peer interleaved, so a busy
machine slows both alike; the table gives medians of CPU time (all threads) and wall time, and
the ratio ours / peer. For the 3-minute song it also splits our time into stages.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SONG_SECONDS = 180
PIANO_SECONDS = 42
SONG_RATE = 44100


def measure(function, repeat: int) -> tuple[float, float]:
    """Median (cpu seconds, wall seconds) of `repeat` calls after one warm-up."""
    function()
    cpu, wall = [], []
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        function()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall)


def make_clips(root: Path, n: int, song_seconds: float = SONG_SECONDS) -> dict[str, list[Path]]:
    """{set name: [clip paths]} for the piano, 4Q and 3-minute-song sets."""
    from emoalign.audio.load import load_audio
    from songs import clips, joined_song

    sets: dict[str, list[Path]] = {}
    piano, what = clips("memomusic", n)
    for path in piano:
        audio = load_audio(path, 24000)[: PIANO_SECONDS * 24000]
        sf.write(root / f"{path.stem}_42s.flac", audio, 24000)
    sets[f"piano-42s (flac 24k; {what})"] = sorted(root.glob("*_42s.flac"))
    four_q, what = clips("4q", n)
    sets[f"4q-30s ({what})"] = four_q
    song, what = joined_song(song_seconds, SONG_RATE)
    print(f"the {song_seconds:.0f}-s song is made of {what}")
    stereo = np.stack([song, np.roll(song, 441) * 0.9], axis=1)  # a slightly wider image
    wav = root / "song.wav"
    sf.write(wav, stereo, SONG_RATE)
    sets["song wav 44.1k stereo"] = [wav]
    sf.write(root / "song.flac", stereo, SONG_RATE)
    sets["song flac 44.1k stereo"] = [root / "song.flac"]
    opus = root / "song_opus.ogg"
    sf.write(opus, load_audio(wav, 24000), 24000, format="OGG", subtype="OPUS")
    sets["song opus 24k mono"] = [opus]
    if shutil.which("ffmpeg"):
        for name, suffix, codec in [("mp3 192k 44.1k stereo", "mp3", ["-b:a", "192k"]),
                                    ("vorbis 44.1k stereo", "ogg", ["-c:a", "libvorbis"])]:
            out = root / f"song_{suffix}.{suffix}"
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), *codec, str(out)],
                           check=True)
            sets[f"song {name}"] = [out]
    return sets


def load_peer():
    try:
        import vibenet
    except ImportError:
        return None
    return vibenet.load_model()


def stage_times(pipe, path: Path, repeat: int) -> dict[str, tuple[float, float]]:
    """Our 3-minute song split into decode + resample, encode, tonal, and the whole predict."""
    from emoalign.audio.load import load_audio, split_segments
    from emoalign.audio.tonal import segment_tonal_features

    rate = pipe.encoder.sample_rate
    samples = load_audio(path, rate)
    segments = split_segments(samples, rate)
    return {"decode + resample": measure(lambda: load_audio(path, rate), repeat),
            "encode (mel + musicnn)": measure(lambda: pipe.encoder.encode(segments), repeat),
            "tonal features": measure(lambda: segment_tonal_features(segments, rate), repeat),
            "predict (all)": measure(lambda: pipe.predict(path), repeat)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4, help="clips per short-clip set")
    parser.add_argument("--song-seconds", type=float, default=SONG_SECONDS,
                        help="length of the joined song (the smoke test makes it short)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backend", default="auto", choices=("auto", "onnx", "torch"))
    parser.add_argument("--no-peer", action="store_true", help="skip VibeNet")
    parser.add_argument("--app-threads", action="store_true",
                        help="keep torch's threads as the app does (no analysis_only)")
    args = parser.parse_args()

    import torch
    torch.set_num_threads(args.threads)
    from emoalign import EmotionPipeline
    from emoalign.audio.musicnn import MusicnnEncoder
    from emoalign.answer.pipeline import analysis_only

    pipe = EmotionPipeline(encoder=MusicnnEncoder(device="cpu", threads=args.threads,
                                                  backend=args.backend), device="cpu")
    if not args.app_threads:  # as the CLI runs it: one torch thread beside ONNX Runtime's
        analysis_only(pipe)
    peer = None if args.no_peer else load_peer()
    print(f"Speed: EmoAlign predict (musicnn on {pipe.encoder.backend}, {args.threads} threads, "
          f"torch {torch.get_num_threads()}) "
          f"vs {'VibeNet ' + _version('vibenet') if peer else 'no peer (VibeNet not installed)'};"
          f" {os.cpu_count()} CPUs; median of {args.repeat} runs per clip")
    print(f"{'clips':32s} {'n':>2s} {'ours cpu':>9s} {'ours wall':>9s} {'peer cpu':>9s} "
          f"{'peer wall':>9s} {'cpu ratio':>9s} {'wall ratio':>10s}")
    with tempfile.TemporaryDirectory() as tmp:
        sets = make_clips(Path(tmp), args.clips, args.song_seconds)
        for name, clips in sets.items():
            ours, theirs = [], []
            for clip in clips:
                ours.append(measure(lambda: pipe.predict(clip), args.repeat))
                if peer is not None:
                    theirs.append(measure(lambda: peer.predict(str(clip)), args.repeat))
            row = f"{name:32s} {len(clips):2d} " + _pair(ours)
            if theirs:
                ratio = np.mean(ours, axis=0) / np.mean(theirs, axis=0)
                row += f" {_pair(theirs)} {ratio[0]:9.2f} {ratio[1]:10.2f}"
            print(row, flush=True)
        song = next(clips[0] for name, clips in sets.items() if name.startswith("song opus"))
        print(f"\nOur stages on the {args.song_seconds:.0f}-s Ogg/Opus song "
              f"({args.threads} threads):")
        for stage, (cpu, wall) in stage_times(pipe, song, args.repeat).items():
            print(f"  {stage:24s} cpu {cpu:6.3f} s  wall {wall:6.3f} s")


def _pair(times: list[tuple[float, float]]) -> str:
    cpu, wall = np.mean(times, axis=0)
    return f"{cpu:9.3f} {wall:9.3f}"


def _version(package: str) -> str:
    from importlib.metadata import version
    return version(package)


if __name__ == "__main__":
    main()
