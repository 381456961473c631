"""Audio in: decode, mix to mono, resample, check, and cut into 10-second segments.

Pure functions over numpy arrays; sample rates are always explicit.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SEGMENT_SECONDS = 10.0  # the unit the adapter is trained on (as in the paper)
MIN_SECONDS = 3.0  # shorter songs, and shorter trailing remainders, carry too little music
MAX_SECONDS = 15 * 60.0  # default cap on song length
SILENCE_RMS = 1e-4  # about -80 dBFS: below this a segment counts as silent
PARALLEL_DECODE_SECONDS = 30.0  # files at least this long are decoded as two halves at once

SOUNDFILE_FORMATS = {"wav", "flac", "ogg", "oga", "opus", "mp3", "aiff", "aif", "au"}
MIN_SAMPLE_RATE = 8000  # below this a file is not music (a 1 Hz "song" is a damaged header)
MAX_SAMPLE_RATE = 768_000
MAX_CHANNELS = 64
FFMPEG_TIMEOUT = 120.0  # seconds one ffmpeg or ffprobe call may take
FFMPEG_RATE = 44100  # ffmpeg decodes to this rate; soxr then resamples to the encoder's
# Demuxers ffmpeg may use (ffprobe's format names): plain audio containers only. Playlists
# (hls), concat lists, image sequences and other formats that open further files are refused.
FFMPEG_FORMATS = ("wav", "w64", "aiff", "au", "caf", "flac", "mp3", "ogg", "matroska", "mov",
                  "aac", "ac3", "eac3", "dts", "asf", "amr", "wv", "ape", "tta", "mpc", "mpc8",
                  "truehd", "mlp")

# Archives are refused before any decoder sees them (a decoder may find a song inside).
ARCHIVE_MAGIC = {b"PK\x03\x04": "zip", b"PK\x05\x06": "zip", b"\x1f\x8b": "gzip",
                 b"7z\xbc\xaf\x27\x1c": "7z", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz",
                 b"Rar!\x1a\x07": "rar", b"\x28\xb5\x2f\xfd": "zstd"}

log = logging.getLogger(__name__)


class AudioError(ValueError):
    """Audio that cannot be analysed; the message is written for the user."""


def load_audio(path: str | Path, sr: int, max_seconds: float | None = MAX_SECONDS,
               trim: bool = False, name: str | None = None) -> np.ndarray:
    """Decode a file to mono float32 at `sr` Hz.

    Channels are averaged while decoding (block by block). Songs longer than `max_seconds`
    raise AudioError as soon as their header says so, or are cut to `max_seconds` when `trim`
    is true; only what is kept is decoded. Formats libsndfile cannot read go through ffmpeg
    (plain audio containers only, local file only, with a timeout) when it is installed.
    Sample rates outside 8-768 kHz, more than 64 channels and NaN/inf samples raise
    AudioError. `name` is how messages call the file (default: its file name).
    """
    path = Path(path)
    name = name or path.name
    if not path.is_file():
        raise AudioError(f"No such audio file: {name}")
    if path.stat().st_size == 0:
        raise AudioError(f"{name} is empty (0 bytes).")
    with open(path, "rb") as f:
        head = f.read(512)
    kind = next((k for magic, k in ARCHIVE_MAGIC.items() if head.startswith(magic)),
                "tar" if head[257:262] == b"ustar" else None)
    if kind:
        raise AudioError(f"{name} is not a readable audio file: it is a {kind} archive. "
                         f"Upload the audio files themselves.")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        log.info("libsndfile cannot read %s (%s); trying ffmpeg", path, error)
        audio, file_sr = _read_ffmpeg(path, name, max_seconds, trim)
    else:
        audio, file_sr = _read_soundfile(path, name, info, max_seconds, trim)
    if max_seconds is not None and len(audio) > max_seconds * file_sr:
        audio = audio[: int(max_seconds * file_sr)]  # only with trim: the readers refuse otherwise
    return prepare_audio(audio, file_sr, sr, name=name)


def too_long(name: str, seconds: float | None, max_seconds: float) -> AudioError:
    length = f"{duration_text(seconds)} long" if seconds else "longer than that"
    cap = duration_text(max_seconds)
    return AudioError(f"{name} is {length}; the limit is {cap}. Tick 'Analyse only the first "
                      f"{cap}' (--trim) to analyse its beginning.")


def duration_text(seconds: float) -> str:
    """'15 min', '2.5 min', '45 s'."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if abs(minutes - round(minutes)) < 0.05 else f"{minutes:.1f} min"


def check_format(name: str, sample_rate: float, channels: int) -> None:
    """Refuse sample rates and channel counts no song has (AudioError)."""
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioError(f"{name} has a sample rate of {sample_rate:g} Hz; audio from "
                         f"{MIN_SAMPLE_RATE // 1000} to {MAX_SAMPLE_RATE // 1000} kHz is "
                         f"supported.")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"{name} has {channels} channels; at most {MAX_CHANNELS} are supported.")


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
    if not MIN_SAMPLE_RATE <= file_sr <= MAX_SAMPLE_RATE:
        check_format(name, file_sr, 1)
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


def _read_soundfile(path: Path, name: str, info, max_seconds: float | None,
                    trim: bool) -> tuple[np.ndarray, int]:
    check_format(name, info.samplerate, info.channels)
    duration = info.frames / info.samplerate if info.frames > 0 else None
    if max_seconds is not None and not trim and duration and duration > max_seconds:
        raise too_long(name, duration, max_seconds)
    # Read at most one frame past the cap: a header that under-reports is caught too.
    limit = None if max_seconds is None else int(max_seconds * info.samplerate) + 1
    try:
        with sf.SoundFile(str(path)) as f:
            blocks = _decode_halves(path, f, info, limit) or _decode_blocks(f, limit)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        log.info("libsndfile failed on %s: %s", path, error)
        raise AudioError(f"{name} could not be decoded; the file looks damaged.") from error
    total = sum(len(block) for block in blocks)
    if limit is not None and total >= limit and not trim:
        raise too_long(name, None, max_seconds)
    audio = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    return audio, info.samplerate


def _decode_blocks(f: sf.SoundFile, count: int | None) -> list[np.ndarray]:
    """Mono blocks of the next `count` frames of `f` (None: to the end), mixed while decoding."""
    blocks, total = [], 0
    step = max(1024, (1 << 20) // f.channels)
    while count is None or total < count:
        block = f.read(step if count is None else min(step, count - total), dtype="float32",
                       always_2d=True)
        if not len(block):
            break
        blocks.append(_mono(block))
        total += len(block)
    return blocks


def _decode_halves(path: Path, f: sf.SoundFile, info, limit: int | None) -> list[np.ndarray]:
    """A long file decoded as two halves at once (libsndfile's decoders run without the GIL):
    half the wall time of Opus or MP3 on two cores, the same CPU time. Seeking is sample-exact
    here, so the samples are those of one pass (tests/test_audio.py: Opus, Vorbis and WAV
    identical; MP3 within 1e-7, as with reads of another size). [] when the file is short, not
    seekable or shorter than its header says (then it is decoded in one pass)."""
    half = (info.frames if limit is None else min(info.frames, limit)) // 2
    if half < PARALLEL_DECODE_SECONDS / 2 * info.samplerate or not f.seekable():
        return []

    def first_half() -> list[np.ndarray]:
        with sf.SoundFile(str(path)) as first:
            return _decode_blocks(first, half)

    try:
        f.seek(half)
    except (sf.LibsndfileError, RuntimeError):  # a header that over-reports the length
        f.seek(0)
        return []
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(first_half)
        second = _decode_blocks(f, None if limit is None else limit - half)
        blocks = first.result()
    if sum(len(block) for block in blocks) != half:
        f.seek(0)
        return []
    return blocks + second


def _mono(block: np.ndarray) -> np.ndarray:
    """(frames, channels) -> (frames,) mean, channel by channel: the same numbers as
    block.mean(axis=1) for up to 7 channels (numpy sums fewer than 8 items in order; more
    within a rounding step), and 4-25x faster (numpy reduces a short inner axis slowly)."""
    if block.shape[1] == 1:
        return block[:, 0].copy()
    total = block[:, 0] + block[:, 1]
    for channel in range(2, block.shape[1]):
        total += block[:, channel]
    return total / np.float32(block.shape[1])


def _ffmpeg_common() -> list[str]:
    return ["-v", "error", "-protocol_whitelist", "file,pipe",
            "-format_whitelist", ",".join(FFMPEG_FORMATS)]


def probe(path: Path, name: str) -> dict:
    """ffprobe's view of `path`: {"format": ..., "duration": seconds or None, "sample_rate",
    "channels"} of the first audio stream. AudioError for what is not a plain audio file."""
    command = ["ffprobe", *_ffmpeg_common(), "-select_streams", "a:0",
               "-show_entries", "format=format_name,duration:stream=sample_rate,channels",
               "-of", "json", "file:" + str(path)]
    try:
        result = subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT, check=False,
                                stdin=subprocess.DEVNULL)
        data = json.loads(result.stdout or b"{}")
    except subprocess.TimeoutExpired as error:
        raise AudioError(f"{name} took too long to inspect; it is not a usable audio file.") \
            from error
    except ValueError:
        data = {}
    streams = data.get("streams") or []
    if result.returncode != 0 or "format" not in data or not streams:
        log.info("ffprobe refused %s: %s", path, result.stderr.decode(errors="replace")[-500:])
        raise AudioError(f"{name} is not a readable audio file (not a supported audio format, "
                         f"or no audio stream in it).")
    stream = streams[0]
    try:
        duration = float(data["format"].get("duration"))
    except (TypeError, ValueError):
        duration = None
    return {"format": data["format"].get("format_name", ""), "duration": duration,
            "sample_rate": int(stream.get("sample_rate") or 0),
            "channels": int(stream.get("channels") or 0)}


def _read_ffmpeg(path: Path, name: str, max_seconds: float | None,
                 trim: bool) -> tuple[np.ndarray, int]:
    suffix = path.suffix.lower().lstrip(".") or "unknown"
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        if suffix in SOUNDFILE_FORMATS:
            raise AudioError(f"{name} could not be decoded; the file looks damaged.")
        raise AudioError(f"Cannot read '.{suffix}' files without ffmpeg. Install ffmpeg, or "
                         f"convert to wav, flac, ogg, opus or mp3.")
    info = probe(path, name)
    if info["sample_rate"] <= 0 or info["channels"] <= 0:
        raise AudioError(f"{name} is not a readable audio file (its audio stream has no sample "
                         f"rate or channels).")
    check_format(name, info["sample_rate"], info["channels"])
    if max_seconds is not None and not trim and info["duration"] and info["duration"] > max_seconds:
        raise too_long(name, info["duration"], max_seconds)
    command = ["ffmpeg", "-nostdin", *_ffmpeg_common(), "-i", "file:" + str(path), "-map", "0:a:0",
               "-vn", "-sn", "-dn", "-f", "f32le", "-ac", "1", "-ar", str(FFMPEG_RATE)]
    limit = None
    if max_seconds is not None:  # decode one second past the cap at most
        command += ["-t", f"{max_seconds + 1:.3f}"]
        limit = int((max_seconds + 1) * FFMPEG_RATE) * 4
    command.append("pipe:1")
    out, err = _run_bounded(command, limit, name)
    audio = np.frombuffer(out, dtype=np.float32).copy()
    if not audio.size:
        log.info("ffmpeg decoded nothing from %s: %s", path, err[-500:])
        raise AudioError(f"{name} is not a readable audio file (no decodable audio in it).")
    if max_seconds is not None and not trim and len(audio) > max_seconds * FFMPEG_RATE:
        raise too_long(name, None, max_seconds)
    return audio, FFMPEG_RATE


def _run_bounded(command: list[str], limit: int | None, name: str) -> tuple[bytes, str]:
    """Run `command`, keep at most `limit` bytes of its stdout, stop it after FFMPEG_TIMEOUT."""
    with tempfile.TemporaryFile() as err, subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL) as process:
        deadline = time.monotonic() + FFMPEG_TIMEOUT
        timer = threading.Timer(FFMPEG_TIMEOUT, process.kill)
        timer.start()
        chunks, size = [], 0
        try:
            while block := process.stdout.read(1 << 20):
                chunks.append(block)
                size += len(block)
                if limit is not None and size >= limit:
                    process.kill()
                    break
        finally:
            timer.cancel()
            process.kill()
            process.wait()
        if time.monotonic() > deadline:
            raise AudioError(f"Decoding {name} took longer than {FFMPEG_TIMEOUT:.0f} s; "
                             f"it was stopped.")
        err.seek(0)
        return b"".join(chunks)[:limit], err.read().decode(errors="replace")
