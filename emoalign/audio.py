"""Audio in: decode, mix to mono, resample, check, and cut into 10-second segments.

Pure functions over numpy arrays; sample rates are always explicit.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SEGMENT_SECONDS = 10.0  # the unit the adapter is trained on (as in the paper)
MIN_SECONDS = 3.0  # shorter songs, and shorter trailing remainders, carry too little music
MAX_SECONDS = 15 * 60.0  # default cap on song length
SILENCE_RMS = 1e-4  # about -80 dBFS: below this a segment counts as silent

SOUNDFILE_FORMATS = {"wav", "flac", "ogg", "oga", "opus", "mp3", "aiff", "aif", "au"}


class AudioError(ValueError):
    """Audio that cannot be analysed; the message is written for the user."""


def load_audio(path: str | Path, sr: int, max_seconds: float | None = MAX_SECONDS,
               trim: bool = False) -> np.ndarray:
    """Decode a file to mono float32 at `sr` Hz.

    Channels are averaged. Songs longer than `max_seconds` raise AudioError, or are cut to
    `max_seconds` when `trim` is true. Formats libsndfile cannot read go through ffmpeg when
    it is installed. NaN/inf samples raise AudioError.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"No such audio file: {path.name}")
    if path.stat().st_size == 0:
        raise AudioError(f"{path.name} is empty (0 bytes).")
    try:
        audio, file_sr = _read_soundfile(path, max_seconds if trim else None)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        audio, file_sr = _read_ffmpeg(path, error)
    duration = len(audio) / file_sr
    if max_seconds is not None and duration > max_seconds:
        if not trim:
            raise AudioError(
                f"{path.name} is {duration / 60:.1f} min long; the limit is "
                f"{max_seconds / 60:.0f} min. Trim it or raise the limit.")
        audio = audio[: int(max_seconds * file_sr)]
    return prepare_audio(audio, file_sr, sr, name=path.name)


def prepare_audio(audio: np.ndarray, file_sr: int, sr: int, name: str = "audio") -> np.ndarray:
    """Mix (samples, channels) or (samples,) audio to mono, check it, resample to `sr`."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        # Gradio and soundfile give (samples, channels); average rather than take one channel.
        audio = audio.mean(axis=1) if audio.shape[1] <= 8 else audio.mean(axis=0)
    if audio.ndim != 1:
        raise AudioError(f"{name}: expected mono or multi-channel audio, got shape {audio.shape}.")
    if audio.size == 0:
        raise AudioError(f"{name} contains no audio samples.")
    if not np.isfinite(audio).all():
        bad = int((~np.isfinite(audio)).sum())
        raise AudioError(f"{name} contains {bad} NaN or infinite samples; the file is damaged.")
    if file_sr <= 0:
        raise AudioError(f"{name}: invalid sample rate {file_sr}.")
    if file_sr != sr:
        audio = soxr.resample(audio, file_sr, sr, quality="HQ").astype(np.float32)
    return audio


def split_segments(audio: np.ndarray, sr: int, seconds: float = SEGMENT_SECONDS,
                   min_seconds: float = MIN_SECONDS) -> np.ndarray:
    """Cut mono audio into (n_segments, seconds * sr) rows.

    A trailing remainder of at least `min_seconds` is zero-padded and kept; a shorter one
    is dropped. Audio shorter than `min_seconds` raises AudioError.
    """
    length = int(round(seconds * sr))
    if len(audio) < min_seconds * sr:
        raise AudioError(
            f"The audio is {len(audio) / sr:.1f} s long; at least {min_seconds:.0f} s is needed.")
    n_full, rest = divmod(len(audio), length)
    segments = [audio[i * length:(i + 1) * length] for i in range(n_full)]
    if rest >= min_seconds * sr or n_full == 0:
        segments.append(np.pad(audio[n_full * length:], (0, length - rest)))
    return np.stack(segments).astype(np.float32)


def silent_segments(segments: np.ndarray, threshold: float = SILENCE_RMS) -> np.ndarray:
    """Boolean mask of segments whose RMS is below `threshold`."""
    rms = np.sqrt(np.mean(np.square(segments, dtype=np.float64), axis=1))
    return rms < threshold


def _read_soundfile(path: Path, max_seconds: float | None) -> tuple[np.ndarray, int]:
    with sf.SoundFile(path) as f:
        frames = -1 if max_seconds is None else int(max_seconds * f.samplerate) + 1
        return f.read(frames=frames, dtype="float32", always_2d=True), f.samplerate


def _read_ffmpeg(path: Path, error: Exception) -> tuple[np.ndarray, int]:
    suffix = path.suffix.lower().lstrip(".") or "unknown"
    if shutil.which("ffmpeg") is None:
        if suffix in SOUNDFILE_FORMATS:
            raise AudioError(f"{path.name} could not be decoded; the file looks damaged "
                             f"({error}).") from error
        raise AudioError(f"Cannot read '.{suffix}' files without ffmpeg. Install ffmpeg, or "
                         f"convert to wav, flac, ogg, opus or mp3.") from error
    sr = 44100
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "f32le",
               "-ac", "1", "-ar", str(sr), "-"]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0 or not result.stdout:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        detail = message[-1] if message else "no audio stream"
        raise AudioError(f"{path.name} is not a readable audio file ({detail}).") from error
    return np.frombuffer(result.stdout, dtype=np.float32).copy(), sr
