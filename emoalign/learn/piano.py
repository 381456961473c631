"""The solo-piano valence/arousal sets: rendering their MIDI with General MIDI soundfonts, and
their valence/arousal labels.

- VGMIDI (``vgmidi/``): 200 MIDI pieces, valence/arousal in [-1, 1] per measure (a 1-6 s time
  bin) and per piece. Label a window of a render with `vgmidi_window_va`.
- MemoMusic (``memomusic/``): 180 pieces (178 MIDIs, 61 real audio files), one whole-piece
  rating, rescaled here to [-1, 1].
- Rendering: `render_midi` runs fluidsynth with one of Debian's GM soundfonts (`SOUNDFONTS`).
  train/render.py renders the first `RENDER_SECONDS` of every MIDI with each soundfont to
  ``features/renders/<soundfont>/<dataset>/<id>.flac`` (`render_path`).

See ../shared/data/README.md for the data and how it is meant to be labelled.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import soundfile as sf

from ..paths import data_root, features_root

SF2_DIR = Path("/usr/share/sounds/sf2")
# Debian's General MIDI soundfonts (packages fluid-soundfont-gm,
# musescore-general-soundfont-lossless, timgm6mb-soundfont). Never the "J800 Piano" one.
SOUNDFONTS: dict[str, Path] = {
    "fluidr3": SF2_DIR / "FluidR3_GM.sf2",
    "musescore": SF2_DIR / "MuseScore_General_Full.sf2",
    "timgm": SF2_DIR / "TimGM6mb.sf2",
}
INSTALL_HINT = ("apt-get install fluidsynth fluid-soundfont-gm "
                "musescore-general-soundfont-lossless timgm6mb-soundfont")
RENDER_SR = 24000  # Hz, the rate of the renders (and of the shared audio)
RENDER_SECONDS = 60.0  # s, how much of each MIDI train/render.py keeps (from its start)
GAIN_RANGE = (0.5, 1.0)  # fluidsynth gains the renders are spread over
PIANO_DATASETS = ("vgmidi", "memomusic")
TRIM_MARGIN_S = 2.0  # s of MIDI kept past `max_seconds`, so the cut falls inside real music


def _data_root(root: str | Path | None) -> Path:
    """`root`, else emoalign's shared data directory ($EMOALIGN_DATA or ../shared/data)."""
    if root is not None:
        return Path(root)
    return data_root()


def renders_root() -> Path:
    """Where train/render.py writes: ``<feature cache>/renders`` (features/ is git-ignored)."""
    return features_root() / "renders"


def render_path(out: str | Path, soundfont: str, dataset: str, piece_id: str | int) -> Path:
    """The render of one piece: ``<out>/<soundfont>/<dataset>/<piece_id>.flac``."""
    return Path(out) / soundfont / dataset / f"{piece_id}.flac"


def render_gain(soundfont: str, dataset: str, piece_id: str | int,
                low: float = GAIN_RANGE[0], high: float = GAIN_RANGE[1]) -> float:
    """A deterministic fluidsynth gain in [low, high] for one render (a hash of its names),
    so the level of a render says nothing about its labels or its soundfont."""
    digest = hashlib.sha256(f"{soundfont}/{dataset}/{piece_id}".encode()).digest()
    return low + (high - low) * int.from_bytes(digest[:8], "big") / 2 ** 64


# ---------------------------------------------------------------------------------------------
# Rendering


def soundfont_path(soundfont: str | Path) -> Path:
    """A soundfont by name (a key of `SOUNDFONTS`) or path; RuntimeError if it is missing."""
    path = SOUNDFONTS.get(str(soundfont), Path(soundfont))
    if "j800" in path.name.lower():
        raise ValueError(f"{path}: the J800 Piano soundfont must not be used; pick one of "
                         f"{sorted(SOUNDFONTS)}")
    if not path.is_file():
        raise RuntimeError(f"soundfont {soundfont!r} not found at {path}; install it with "
                           f"`{INSTALL_HINT}`")
    return path


def fluidsynth_binary() -> str:
    """The fluidsynth executable; RuntimeError with install advice if it is absent."""
    binary = shutil.which("fluidsynth")
    if binary is None:
        raise RuntimeError(f"fluidsynth is not installed; install it with `{INSTALL_HINT}`")
    return binary


def render_midi(midi_path: str | Path, soundfont: str | Path = "fluidr3", sr: int = RENDER_SR,
                gain: float = 0.8, max_seconds: float | None = None,
                timeout: float = 600.0) -> np.ndarray:
    """Render a MIDI file with fluidsynth and return mono float32 audio at `sr` Hz.

    With `max_seconds`, the MIDI is first cut `TRIM_MARGIN_S` past it (`trim_midi`; the audio
    up to the cut is the same as the whole file's), since fluidsynth renders whole files and
    32-min MIDIs exist. fluidsynth writes a temporary stereo float WAV (a release/reverb tail
    of a few seconds past the MIDI's end); the channels are averaged, and only the first
    `max_seconds` seconds are read back (None: all of it). `gain` is fluidsynth's master gain
    (its default is 0.2; 0.5-1.0 gives peaks of about 0.2-0.8 on these sets). `timeout` in
    seconds of wall time: a whole 32-min MIDI takes about 10-20 s.
    """
    midi_path = Path(midi_path)
    if not midi_path.is_file():
        raise FileNotFoundError(midi_path)
    font = soundfont_path(soundfont)
    binary = fluidsynth_binary()
    with tempfile.TemporaryDirectory(prefix="emoalign-render-") as tmp:
        wav = Path(tmp) / "render.wav"
        if max_seconds is not None:  # fluidsynth renders whole files: 32-min MIDIs exist
            midi_path = trim_midi(midi_path, max_seconds + TRIM_MARGIN_S, Path(tmp) / "trim.mid")
        cmd = [binary, "-ni", "-q", "-g", f"{gain:.4f}", "-r", str(int(sr)), "-O", "float",
               "-T", "wav", "-F", str(wav), str(font), str(midi_path)]
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"fluidsynth took over {timeout:.0f} s on {midi_path}") from e
        if done.returncode != 0 or not wav.is_file():
            raise RuntimeError(f"fluidsynth failed on {midi_path} (exit {done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-500:]}")
        frames = -1 if max_seconds is None else int(round(max_seconds * sr))
        audio, file_sr = sf.read(wav, frames=frames, dtype="float32", always_2d=True)
    if file_sr != sr:
        raise RuntimeError(f"fluidsynth wrote {file_sr} Hz instead of {sr} Hz")
    return audio.mean(axis=1).astype(np.float32)


def trim_midi(midi_path: str | Path, seconds: float, out_path: str | Path) -> Path:
    """A type-0 copy of the MIDI's first `seconds` (tempo changes honoured), ended with
    all-notes-off on every channel so nothing hangs past the cut."""
    import mido

    source = mido.MidiFile(str(midi_path))
    tempo, now, kept, track = 500000, 0.0, 0.0, mido.MidiTrack()
    cut = False
    for message in mido.merge_tracks(source.tracks):
        now += mido.tick2second(message.time, source.ticks_per_beat, tempo)
        if now > seconds:
            cut = True
            break
        if message.type == "set_tempo":
            tempo = message.tempo
        if message.type != "end_of_track":
            track.append(message)
            kept = now
    # A cut MIDI stops its notes at `seconds` itself, not at the last kept event (which can be
    # a few seconds earlier, e.g. under a long chord); a shorter MIDI ends where it ended.
    pad = round(mido.second2tick(seconds - kept, source.ticks_per_beat, tempo)) if cut else 0
    track += [mido.Message("control_change", channel=c, control=123, value=0,
                           time=pad if c == 0 else 0) for c in range(16)]
    track.append(mido.MetaMessage("end_of_track"))
    trimmed = mido.MidiFile(type=0, ticks_per_beat=source.ticks_per_beat)
    trimmed.tracks.append(track)
    trimmed.save(str(out_path))
    return Path(out_path)


# ---------------------------------------------------------------------------------------------
# Labels


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _float_or_none(text: str) -> float | None:
    return float(text) if text.strip() else None


def vgmidi_pieces(root: str | Path | None = None) -> list[dict[str, Any]]:
    """VGMIDI's 200 pieces (vgmidi/pieces.csv), one dict each, in piece_id order.

    Keys: piece_id (int, 8000-8199), split, franchise, title, midi (Path), duration_s (length
    of the audio the listeners heard, s), midi_end_s (where the MIDI ends, s), timing_ok (bool;
    False for the 9 pieces whose measure times must not be used), n_measures, valence_mean and
    arousal_mean (piece means over measures and listeners, already in [-1, 1]), valence_sd and
    arousal_sd (spread across listeners), label_end_s (the last second a window may reach for
    measure labels, min(duration_s, midi_end_s); None when timing_ok is False).
    """
    folder = _data_root(root) / "vgmidi"
    rows = []
    for r in _read_csv(folder / "pieces.csv"):
        timing_ok = r["timing_ok"].strip() == "1"
        duration, midi_end = float(r["duration_s"]), float(r["midi_end_s"])
        rows.append({
            "piece_id": int(r["piece_id"]), "split": r["split"], "franchise": r["franchise"],
            "title": r["title"], "midi": folder / r["midi_file"], "duration_s": duration,
            "midi_end_s": midi_end, "timing_ok": timing_ok, "n_measures": int(r["n_measures"]),
            "valence_mean": float(r["valence_mean"]), "arousal_mean": float(r["arousal_mean"]),
            "valence_sd": float(r["valence_sd"]), "arousal_sd": float(r["arousal_sd"]),
            "label_end_s": min(duration, midi_end) if timing_ok else None,
        })
    return sorted(rows, key=lambda r: r["piece_id"])


def vgmidi_measures(root: str | Path | None = None) -> dict[int, dict[str, np.ndarray]]:
    """vgmidi/measures.csv by piece_id: arrays start_s, end_s (s from the MIDI's start),
    valence_mean, arousal_mean (in [-1, 1]) and n_annotators, in measure order."""
    by_piece: dict[int, list[dict[str, str]]] = {}
    for r in _read_csv(_data_root(root) / "vgmidi" / "measures.csv"):
        by_piece.setdefault(int(r["piece_id"]), []).append(r)
    out = {}
    for pid, rows in by_piece.items():
        rows.sort(key=lambda r: int(r["measure"]))
        out[pid] = {key: np.array([float(r[key]) for r in rows]) for key in
                    ("start_s", "end_s", "valence_mean", "arousal_mean", "n_annotators")}
    return out


def vgmidi_window_va(measures: Mapping[str, Any], t0: float, t1: float) -> tuple[float, float]:
    """(valence, arousal) of the window [t0, t1) s of one piece: the means of its measures'
    valence_mean / arousal_mean weighted by each measure's overlap with the window in seconds,
    as the data README does. `measures`: one piece's `vgmidi_measures` entry (or a DataFrame
    with the same columns). (nan, nan) when no measure overlaps the window.
    Check `label_end_s` (t1 must not pass it; pieces with timing_ok False have none)."""
    start = np.asarray(measures["start_s"], dtype=np.float64)
    end = np.asarray(measures["end_s"], dtype=np.float64)
    w = (np.minimum(end, t1) - np.maximum(start, t0)).clip(0)
    if w.sum() <= 0:
        return float("nan"), float("nan")
    v = float((w * np.asarray(measures["valence_mean"], dtype=np.float64)).sum() / w.sum())
    a = float((w * np.asarray(measures["arousal_mean"], dtype=np.float64)).sum() / w.sum())
    return v, a


def memomusic_pieces(root: str | Path | None = None) -> list[dict[str, Any]]:
    """MemoMusic's 180 pieces (memomusic/pieces.csv), one dict each, in file order.

    Keys: id ('<category>_<NN>'), category ('classical', 'pop', 'yanni'), title, split, midi
    (Path, or None for pop_13 and yanni_48), audio (Path of the real audio/<id>.ogg, or None:
    61 pieces have one), midi_duration_s / audio_duration_s (s, or None), note, valence_raw
    (integer -5..5) and arousal_raw (0..10) as rated, and valence = valence_raw / 5 and
    arousal = (arousal_raw - 5) / 5, both in [-1, 1] with the quadrant centre at 0.
    """
    folder = _data_root(root) / "memomusic"
    rows = []
    for r in _read_csv(folder / "pieces.csv"):
        v, a = float(r["valence"]), float(r["arousal"])
        rows.append({
            "id": r["id"], "category": r["category"], "title": r["title"], "split": r["split"],
            "midi": folder / r["midi_file"] if r["midi_file"].strip() else None,
            "audio": folder / r["audio_file"] if r["audio_file"].strip() else None,
            "midi_duration_s": _float_or_none(r["midi_duration_s"]),
            "audio_duration_s": _float_or_none(r["audio_duration_s"]), "note": r["note"],
            "valence_raw": v, "arousal_raw": a,
            "valence": memomusic_valence(v), "arousal": memomusic_arousal(a),
        })
    return rows


def memomusic_valence(raw: float) -> float:
    """MemoMusic valence -5 (sad) .. 5 (joyful) -> [-1, 1]."""
    return raw / 5.0


def memomusic_arousal(raw: float) -> float:
    """MemoMusic arousal 0 (calm) .. 10 -> [-1, 1], centred on the quadrant centre 5."""
    return (raw - 5.0) / 5.0
