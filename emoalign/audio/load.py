"""Audio in: decode, mix to mono, resample, check, and cut into 10-second segments.

Pure functions over numpy arrays; sample rates are always explicit. Decoding streams: blocks
are mixed to mono and resampled as they are read (decoding.py), so memory follows the samples
kept at the target rate, never the file's own rate.
"""

from __future__ import annotations

import contextlib
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .decoding import (MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, AudioError, Resampled, check_format,
                       check_samples, quiet_stderr, read_ffmpeg, too_long)

SEGMENT_SECONDS = 10.0  # the unit the adapter is trained on (as in the paper)
MIN_SECONDS = 3.0  # shorter songs, and shorter trailing remainders, carry too little music
MAX_SECONDS = 15 * 60.0  # default cap on song length
SILENCE_RMS = 1e-4  # about -80 dBFS: below this a segment counts as silent
PARALLEL_DECODE_SECONDS = 30.0  # files at least this long are decoded as two halves at once
SEAM_SECONDS = 0.1  # the second half starts this much early: the resampler's filter settles
NO_AUDIO_SECONDS = 0.1  # a file decoding to less holds no sound (a video, a damaged file)
READ_SAMPLES = 1 << 20  # samples (frames x channels) libsndfile decodes at a time

# Archives are refused before any decoder sees them (a decoder may find a song inside).
ARCHIVE_MAGIC = {b"PK\x03\x04": "zip", b"PK\x05\x06": "zip", b"\x1f\x8b": "gzip",
                 b"7z\xbc\xaf\x27\x1c": "7z", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz",
                 b"Rar!\x1a\x07": "rar", b"\x28\xb5\x2f\xfd": "zstd"}

log = logging.getLogger(__name__)


def load_audio(path: str | Path, sr: int, max_seconds: float | None = MAX_SECONDS,
               trim: bool = False, name: str | None = None) -> np.ndarray:
    """Decode a file to mono float32 at `sr` Hz.

    Blocks are mixed to mono and resampled as they are decoded: memory follows the samples
    kept at `sr`, whatever the file's own rate. Songs longer than `max_seconds` raise
    AudioError as soon as their header says so, or are cut to `max_seconds` when `trim` is
    true; only what is kept is decoded. Formats libsndfile cannot read go through ffmpeg
    (plain audio containers only, local file only, with a timeout) when it is installed.
    Sample rates outside 8-768 kHz, more than 64 channels, NaN/inf samples or samples far
    outside +-1, and files with (almost) no sound raise AudioError. Decoders' complaints on
    stderr are kept off the terminal. `name` is how messages call the file (default: its
    file name).
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
    # libmpg123 prints "Illegal Audio-MPEG-Header" on stderr while libsndfile probes a damaged
    # or mislabelled file, and while it decodes an MP3: kept off the terminal (only then, as
    # the redirection holds back the process's other stderr lines until it ends).
    with quiet_stderr():
        try:
            info = sf.info(str(path))
        except (sf.LibsndfileError, RuntimeError, TypeError) as error:
            log.info("libsndfile cannot read %s (%s); trying ffmpeg", path, error)
            info = None
    if info is None:
        audio = read_ffmpeg(path, name, sr, max_seconds, trim)
    else:
        with quiet_stderr() if info.format in ("MP3", "MPEG") else contextlib.nullcontext():
            audio = _read_soundfile(path, name, info, sr, max_seconds, trim)
    if len(audio) < NO_AUDIO_SECONDS * sr:
        raise AudioError(f"{name} holds almost no sound ({len(audio) / sr:.2f} s; at least "
                         f"{MIN_SECONDS:.0f} s is needed): a video without sound, or not an "
                         f"audio file?")
    return audio


def prepare_audio(audio: np.ndarray, file_sr: int, sr: int, name: str = "audio") -> np.ndarray:
    """Mix (samples, channels) or (samples,) audio to mono, check it, resample to `sr`.
    Integer PCM (as Gradio hands it over) is scaled to [-1, 1]."""
    audio = np.asarray(audio)
    if np.issubdtype(audio.dtype, np.integer):
        audio = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max)
    audio = audio.astype(np.float32, copy=False)
    if audio.ndim == 2:
        # Gradio and soundfile give (samples, channels); average rather than take one channel.
        check_samples(audio, name)
        audio = audio.mean(axis=1) if audio.shape[1] <= 8 else audio.mean(axis=0)
    if audio.ndim != 1:
        raise AudioError(f"{name}: expected mono or multi-channel audio, got an array of "
                         f"{audio.ndim} dimensions.")
    if audio.size == 0:
        raise AudioError(f"{name} contains no audio samples.")
    check_samples(audio, name)
    if not MIN_SAMPLE_RATE <= file_sr <= MAX_SAMPLE_RATE:
        check_format(name, file_sr, 1)
    if file_sr != sr:
        audio = soxr.resample(audio, file_sr, sr, quality="HQ").astype(np.float32)
        check_samples(audio, name)
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


def _read_soundfile(path: Path, name: str, info, sr: int, max_seconds: float | None,
                    trim: bool) -> np.ndarray:
    check_format(name, info.samplerate, info.channels)
    duration = info.frames / info.samplerate if info.frames > 0 else None
    if max_seconds is not None and not trim and duration and duration > max_seconds:
        raise too_long(name, duration, max_seconds)
    # Without trim, read one frame past the cap: a header that under-reports is caught too.
    limit = None if max_seconds is None else int(max_seconds * info.samplerate) + (not trim)
    try:
        with sf.SoundFile(str(path)) as f:
            decoded = _decode_halves(path, f, info, limit, name, sr)
            if decoded is None:
                out = Resampled(name, info.samplerate, sr)
                _decode_blocks(f, limit, out)
                decoded = out.audio(), out.frames
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        log.info("libsndfile failed on %s: %s", path, error)
        raise AudioError(f"{name} could not be decoded; the file looks damaged.") from error
    audio, frames = decoded
    if limit is not None and frames >= limit and not trim:
        raise too_long(name, None, max_seconds)
    return audio


def _decode_blocks(f: sf.SoundFile, count: int | None, out: Resampled) -> int:
    """Decode the next `count` frames of `f` (None: to the end) into `out`, mixed to mono
    block by block; returns the frames read."""
    total = 0
    step = max(1024, READ_SAMPLES // f.channels)
    while count is None or total < count:
        block = f.read(step if count is None else min(step, count - total), dtype="float32",
                       always_2d=True)
        if not len(block):
            break
        check_samples(block, out.name)  # before mixing: channels of +-3e38 would sum to inf
        out.add(_mono(block))
        total += len(block)
    return total


def _decode_halves(path: Path, f: sf.SoundFile, info, limit: int | None, name: str,
                   sr: int) -> tuple[np.ndarray, int] | None:
    """A long file decoded as two halves at once (libsndfile's decoders run without the GIL):
    half the wall time of Opus or MP3 on two cores, the same CPU time. Seeking is sample-exact
    here, so the samples are those of one pass (tests/test_audio.py: Opus, Vorbis and WAV
    identical; MP3 within 1e-7, as with reads of another size). Each half has its own
    streaming resampler: the halves meet at an input sample that falls on an output sample,
    and the second starts SEAM_SECONDS early so that its filter has settled by then (within
    1e-6 of one pass at 44.1 kHz, 3e-6 at 655 kHz, where soxr decimates in stages). Returns
    (audio at `sr`, frames read), or None when the file is short, not seekable or shorter
    than its header says (then it is decoded in one pass)."""
    rate = info.samplerate
    total = info.frames if limit is None else min(info.frames, limit)
    if total < PARALLEL_DECODE_SECONDS * rate or not f.seekable():
        return None
    step_in, step_out = rate // math.gcd(rate, sr), sr // math.gcd(rate, sr)
    seam = total // 2 // step_in * step_in  # an input sample that is an output sample too
    pad = 0 if rate == sr else math.ceil(SEAM_SECONDS * rate / step_in) * step_in
    if seam - pad <= 0:
        return None
    first = Resampled(name, rate, sr, keep=seam // step_in * step_out)
    second = Resampled(name, rate, sr, skip=pad // step_in * step_out)

    def first_half() -> int:
        with sf.SoundFile(str(path)) as head:
            return _decode_blocks(head, seam + pad, first)

    try:
        f.seek(seam - pad)
    except (sf.LibsndfileError, RuntimeError):  # a header that over-reports the length
        f.seek(0)
        return None
    with ThreadPoolExecutor(max_workers=1) as pool:
        started = pool.submit(first_half)
        tail = _decode_blocks(f, None if limit is None else limit - (seam - pad), second)
        head = started.result()
    if head != seam + pad:
        f.seek(0)
        return None
    return np.concatenate([first.audio(), second.audio()]), seam - pad + tail


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
