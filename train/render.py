"""Render the solo-piano MIDI sets (VGMIDI, MemoMusic) with each General MIDI soundfont.

    nice -n 10 python train/render.py

Writes features/renders/<soundfont>/<dataset>/<id>.flac (or under --out): the first
RENDER_SECONDS (60 s) of every MIDI, mono, 24 kHz, 16-bit FLAC, at a deterministic per-render
gain in 0.5-1.0 (emoalign.learn.piano.render_gain) so a render's level carries no label; the few
renders that would peak above 0.99 are scaled down to 0.99 rather than clipped. Labels are
not stored here: VGMIDI windows get theirs from its measures
(emoalign.learn.piano.vgmidi_window_va), MemoMusic renders take the whole-piece rating. Re-running resumes: finished files are skipped,
and each file is written to a temporary name first, then renamed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emoalign.learn.piano import (PIANO_DATASETS, RENDER_SECONDS, RENDER_SR, SOUNDFONTS,
                                  fluidsynth_binary, memomusic_pieces, render_gain, render_midi,
                                  render_path, renders_root, soundfont_path, vgmidi_pieces)

MAX_JOBS = 2  # the machine has 2 shared cores
MAX_PEAK = 0.99  # renders louder than this are scaled down to it (16-bit FLAC clips at 1)


def midis(dataset: str, data_dir: str | None) -> list[tuple[str, Path]]:
    """(id, MIDI path) of every MIDI of a dataset."""
    if dataset == "vgmidi":
        return [(str(r["piece_id"]), r["midi"]) for r in vgmidi_pieces(data_dir)]
    return [(r["id"], r["midi"]) for r in memomusic_pieces(data_dir) if r["midi"] is not None]


def render_one(job: tuple[str, str, str, str, str, float]) -> dict:
    """Render one job (soundfont, dataset, id, MIDI path, output path, seconds) and write it
    atomically. Returns its stats, or the error."""
    soundfont, dataset, piece_id, midi, out, seconds = job
    start = time.perf_counter()
    try:
        gain = render_gain(soundfont, dataset, piece_id)
        audio = render_midi(midi, soundfont, sr=RENDER_SR, gain=gain, max_seconds=seconds)
        if audio.size == 0 or not np.isfinite(audio).all():
            raise RuntimeError("empty or non-finite render")
        peak = float(np.abs(audio).max())
        if peak > MAX_PEAK:  # a few dense, loud MIDIs at high gain: scale down, never clip
            audio = audio * (MAX_PEAK / peak)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        sf.write(tmp, audio, RENDER_SR, format="FLAC", subtype="PCM_16")
        os.replace(tmp, out)
        return {"job": job, "seconds": audio.size / RENDER_SR, "peak": peak, "gain": gain,
                "rms": float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))),
                "wall": time.perf_counter() - start, "error": None}
    except Exception as e:  # reported at the end; the other renders go on
        return {"job": job, "error": f"{type(e).__name__}: {e}",
                "wall": time.perf_counter() - start}


def disk_usage(folder: Path) -> int:
    """Bytes of the files under `folder`."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=None, help="default: features/renders")
    parser.add_argument("--data-dir", default=None,
                        help="default: $EMOALIGN_DATA or ../shared/data")
    parser.add_argument("--soundfont", nargs="+", default=list(SOUNDFONTS),
                        choices=list(SOUNDFONTS))
    parser.add_argument("--dataset", nargs="+", default=list(PIANO_DATASETS),
                        choices=list(PIANO_DATASETS))
    parser.add_argument("--seconds", type=float, default=RENDER_SECONDS,
                        help="keep the first N seconds of each MIDI")
    parser.add_argument("--jobs", type=int, default=MAX_JOBS,
                        help=f"parallel renders (at most {MAX_JOBS})")
    parser.add_argument("--limit", type=int, default=None, help="only the first N MIDIs per set")
    args = parser.parse_args(argv)

    fluidsynth_binary()  # fail early, with install advice
    for name in args.soundfont:
        soundfont_path(name)
    out_root = Path(args.out) if args.out else renders_root()
    started = time.perf_counter()

    jobs, skipped = [], 0
    for dataset in args.dataset:
        pieces = midis(dataset, args.data_dir)[:args.limit]
        for soundfont in args.soundfont:
            for piece_id, midi in pieces:
                out = render_path(out_root, soundfont, dataset, piece_id)
                if out.is_file():
                    skipped += 1
                    continue
                jobs.append((soundfont, dataset, piece_id, str(midi), str(out), args.seconds))
    # Longest MIDIs first, so the two workers finish together.
    jobs.sort(key=lambda j: -Path(j[3]).stat().st_size)
    print(f"{len(jobs)} renders to do, {skipped} already there, into {out_root}", flush=True)

    results = []
    if jobs:
        with Pool(max(1, min(args.jobs, MAX_JOBS))) as pool:
            for result in tqdm(pool.imap_unordered(render_one, jobs), total=len(jobs),
                               unit="render", smoothing=0.05):
                results.append(result)
                if result["error"]:
                    tqdm.write(f"FAILED {result['job'][:3]}: {result['error']}")

    done = [r for r in results if not r["error"]]
    failed = [r for r in results if r["error"]]
    elapsed = time.perf_counter() - started
    print(f"\nrendered {len(done)}, skipped {skipped} (already there), failed {len(failed)} "
          f"in {elapsed:.0f} s ({sum(r['wall'] for r in results):.0f} s of worker time)")
    for soundfont in args.soundfont:
        for dataset in args.dataset:
            folder = out_root / soundfont / dataset
            files = sorted(folder.glob("*.flac")) if folder.is_dir() else []
            hours = sum(sf.info(f).duration for f in files) / 3600
            print(f"  {soundfont:10s} {dataset:10s} {len(files):4d} files  {hours:5.2f} h")
    if done:
        peaks = np.array([r["peak"] for r in done])
        rms = np.array([r["rms"] for r in done])
        short = sum(r["seconds"] < args.seconds - 0.01 for r in done)
        print(f"this run: {sum(r['seconds'] for r in done) / 3600:.2f} h of audio; "
              f"{short} renders shorter than {args.seconds:.0f} s (short MIDIs); peak median "
              f"{np.median(peaks):.2f}, max {peaks.max():.2f} ({(peaks > MAX_PEAK).sum()} "
              f"scaled down to {MAX_PEAK}, {(rms < 1e-4).sum()} silent); "
              f"RMS {np.percentile(rms, 5):.3f}-{np.percentile(rms, 95):.3f} (5-95 %); "
              f"slowest {max(r['wall'] for r in done):.1f} s")
    if out_root.is_dir():
        print(f"disk: {disk_usage(out_root) / 2 ** 20:.0f} MiB under {out_root} "
              f"({shutil.disk_usage(out_root).free / 2 ** 30:.1f} GiB free)")
    for r in failed:
        print(f"FAILED {r['job'][:3]}: {r['error']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
