"""Decoding whose memory follows the samples kept, not the file's own sample rate.

- `Resampled`: mono blocks at the file's rate in, float32 at the target rate out, resampled as
  they come (soxr's streaming "HQ" resampler gives the very samples of one call on the whole
  array), each block checked (`check_samples`) before it is kept. A 15-min file at 655 kHz
  costs its 15 min at 16 kHz (57 MB), not 2.3 GB of samples at its own rate.
- `read_ffmpeg`: what libsndfile cannot read, through ffmpeg (plain audio containers only,
  local file only, a timeout), its output streamed into a `Resampled`.
- `quiet_stderr`: C decoders that print to the process's stderr (mpg123's "Illegal
  Audio-MPEG-Header", "Trying to resync") are kept off the terminal and the logs.
- `AudioError` and the checks every reader shares (`check_format`, `too_long`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soxr

MIN_SAMPLE_RATE = 8000  # below this a file is not music (a 1 Hz "song" is a damaged header)
MAX_SAMPLE_RATE = 768_000
MAX_CHANNELS = 64
MAX_PEAK = 1e4  # music lies within +-1 (float files a little over when clipped); +-1e4 is 80 dB
# over full scale: such samples are damage, and would overflow the resampler and the spectra
FFMPEG_TIMEOUT = 120.0  # seconds one ffmpeg or ffprobe call may take
FFMPEG_RATE = 44100  # ffmpeg decodes to this rate; soxr then resamples to the encoder's
FFMPEG_BLOCK = 1 << 20  # bytes of ffmpeg's output read at a time
# Demuxers ffmpeg may use (ffprobe's format names): plain audio containers only. Playlists
# (hls), concat lists, image sequences and other formats that open further files are refused.
FFMPEG_FORMATS = ("wav", "w64", "aiff", "au", "caf", "flac", "mp3", "ogg", "matroska", "mov",
                  "aac", "ac3", "eac3", "dts", "asf", "amr", "wv", "ape", "tta", "mpc", "mpc8",
                  "truehd", "mlp")
SOUNDFILE_FORMATS = {"wav", "flac", "ogg", "oga", "opus", "mp3", "aiff", "aif", "au"}
# what counts as audio, for uploads and for indexing a folder (no dot, lower case)
AUDIO_SUFFIXES = SOUNDFILE_FORMATS | {"wave", "m4a", "mp4", "aac", "mka", "webm", "wma", "aifc",
                                      "caf", "w64", "wv", "ac3"}
# What C decoders print on the process's stderr about a damaged stream (libmpg123 inside
# libsndfile): dropped by `quiet_stderr`; anything else written meanwhile is passed on.
DECODER_NOISE = re.compile(r"Illegal Audio-MPEG-Header|Trying to resync|Hit end of \(available\)"
                           r"|libmpg123|Giving up (re)?sync|Skipped \d+ bytes|^\s*Note: ")

log = logging.getLogger(__name__)


class AudioError(ValueError):
    """Audio that cannot be analysed; the message is written for the user."""


def check_format(name: str, sample_rate: float, channels: int) -> None:
    """Refuse sample rates and channel counts no song has (AudioError)."""
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise AudioError(f"{name} has a sample rate of {sample_rate:g} Hz; audio from "
                         f"{MIN_SAMPLE_RATE // 1000} to {MAX_SAMPLE_RATE // 1000} kHz is "
                         f"supported.")
    if not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"{name} has {channels} channels; at most {MAX_CHANNELS} are supported.")


def check_samples(block: np.ndarray, name: str) -> None:
    """Refuse NaN or infinite samples, and samples far outside the range audio uses."""
    finite = np.isfinite(block)
    if not finite.all():
        raise AudioError(f"{name} contains {int((~finite).sum())} NaN or infinite samples; "
                         f"the file is damaged.")
    peak = float(np.abs(block).max()) if block.size else 0.0
    if peak > MAX_PEAK:
        raise AudioError(f"{name} holds samples far outside the range of sound (up to "
                         f"{peak:.1e}, where music stays within +-1); the file is damaged.")


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


class Resampled:
    """Mono float32 blocks at `file_sr` in (`add`), float32 at `sr` out (`audio`), resampled
    block by block. The first `skip` output samples are dropped and at most `keep` kept (the
    seam of two halves decoded at once). Every block is checked before it is resampled."""

    def __init__(self, name: str, file_sr: int, sr: int, skip: int = 0,
                 keep: int | None = None) -> None:
        self.name = name
        self.frames = 0  # input frames taken
        self._stream = (None if file_sr == sr else
                        soxr.ResampleStream(file_sr, sr, 1, dtype="float32", quality="HQ"))
        self._skip, self._room = skip, keep
        self._blocks: list[np.ndarray] = []
        self._done = False

    def add(self, block: np.ndarray, last: bool = False) -> None:
        block = np.ascontiguousarray(block, dtype=np.float32)
        check_samples(block, self.name)
        self.frames += len(block)
        out = block if self._stream is None else self._stream.resample_chunk(block, last=last)
        self._done = last
        self._keep(out)

    def _keep(self, out: np.ndarray) -> None:
        if self._skip:
            dropped = min(self._skip, len(out))
            out, self._skip = out[dropped:], self._skip - dropped
        if self._room is not None:
            out, self._room = out[:self._room], self._room - min(self._room, len(out))
        if len(out):
            self._blocks.append(out)

    def finish(self) -> None:
        """Flush the resampler's tail (after the last block)."""
        if self._stream is not None and not self._done:
            self._keep(self._stream.resample_chunk(np.zeros(0, np.float32), last=True))
        self._done = True

    def audio(self) -> np.ndarray:
        self.finish()
        audio = np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.float32)
        self._blocks = []
        if not np.isfinite(audio).all():  # cannot happen within MAX_PEAK; kept as a guard
            raise AudioError(f"{self.name} holds samples far outside the range of sound; the "
                             f"file is damaged.")
        return audio


_quiet = {"depth": 0, "saved": None, "capture": None}
_quiet_lock = threading.Lock()


@contextlib.contextmanager
def quiet_stderr():
    """Send the process's stderr (file descriptor 2) to a buffer while C decoders run; on the
    way out, lines that are `DECODER_NOISE` are dropped and the rest written to stderr. Nested
    and concurrent uses share one redirection."""
    with _quiet_lock:
        if _quiet["depth"] == 0:
            try:
                sys.stderr.flush()
                capture = tempfile.TemporaryFile()
                saved = os.dup(2)
                os.dup2(capture.fileno(), 2)
            except (OSError, ValueError, AttributeError):  # no stderr to redirect
                capture = saved = None
            _quiet.update(saved=saved, capture=capture)
        _quiet["depth"] += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet["depth"] -= 1
            if _quiet["depth"] == 0 and _quiet["saved"] is not None:
                _restore(_quiet["saved"], _quiet["capture"])
                _quiet.update(saved=None, capture=None)


def _restore(saved: int, capture) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    with capture:
        capture.seek(0)
        text = capture.read().decode(errors="replace")
    kept = "".join(line for line in text.splitlines(keepends=True)
                   if not DECODER_NOISE.search(line))
    if kept:
        os.write(2, kept.encode())


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
    try:
        rate, channels = int(stream.get("sample_rate") or 0), int(stream.get("channels") or 0)
    except (TypeError, ValueError):
        rate = channels = 0
    return {"format": data["format"].get("format_name", ""), "duration": duration,
            "sample_rate": rate, "channels": channels}


def read_ffmpeg(path: Path, name: str, sr: int, max_seconds: float | None,
                trim: bool) -> np.ndarray:
    """Decode `path` with ffmpeg to mono at FFMPEG_RATE, streamed into a resampler to `sr`."""
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
    if max_seconds is not None:  # decode one sample past the cap at most (none with trim)
        command += ["-t", f"{max_seconds + 1:.3f}"]
        limit = int(max_seconds * FFMPEG_RATE) + (0 if trim else 1)
    command.append("pipe:1")
    out = Resampled(name, FFMPEG_RATE, sr)
    err = _run_streamed(command, name, out, limit)
    if not out.frames:
        log.info("ffmpeg decoded nothing from %s: %s", path, err[-500:])
        raise AudioError(f"{name} is not a readable audio file (no decodable audio in it).")
    if limit is not None and not trim and out.frames >= limit:
        raise too_long(name, None, max_seconds)
    return out.audio()


def _run_streamed(command: list[str], name: str, out: Resampled, limit: int | None) -> str:
    """Run `command`, feed its stdout (float32 samples) to `out` block by block, at most
    `limit` samples; stop it after FFMPEG_TIMEOUT. Returns its stderr."""
    with tempfile.TemporaryFile() as err, subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL) as process:
        deadline = time.monotonic() + FFMPEG_TIMEOUT
        timer = threading.Timer(FFMPEG_TIMEOUT, process.kill)
        timer.start()
        rest = b""
        try:
            while block := process.stdout.read(FFMPEG_BLOCK):
                block = rest + block
                usable = len(block) // 4 * 4
                samples, rest = np.frombuffer(block[:usable], np.float32), block[usable:]
                if limit is not None and out.frames + len(samples) >= limit:
                    out.add(samples[:limit - out.frames])
                    break
                out.add(samples)
        finally:
            timer.cancel()
            process.kill()
            process.wait()
        if time.monotonic() > deadline:
            raise AudioError(f"Decoding {name} took longer than {FFMPEG_TIMEOUT:.0f} s; "
                             f"it was stopped.")
        err.seek(0)
        return err.read().decode(errors="replace")
