"""A corpus of bad inputs, as hostile or careless visitors bring them: truncated and
mislabelled files, zero-length streams, huge channel counts, extreme sample rates, archives,
playlists that name server files, symlinks, long files, and absurd word lists.

`audio_corpus(folder, clip)` writes the files and returns `Case`s: `expect` is a regex the
user's message must match (None: the file is odd but fine and must be analysed).
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import struct
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

NOT_AUDIO = "not a readable audio file|could not be decoded|damaged|without ffmpeg"
RATE = "sample rate"
TOO_LONG = "the limit is"
SHORT = "at least 3 s"
SILENT = "silent"
EMPTY = "empty|no audio samples|at least 3 s|not a readable|damaged"


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    expect: str | None  # regex of the message; None: analysed fine
    category: str


def tone(seconds: float, sr: int, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    mono = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return mono if channels == 1 else np.repeat(mono[:, None], channels, axis=1)


def wav_header(sr: int, channels: int, frames: int, bits: int = 16, data: bytes | None = None,
               fmt: int = 1) -> bytes:
    """A RIFF/WAVE file with any header values (also impossible ones)."""
    block = channels * bits // 8
    data = data if data is not None else b"\x01\x00" * (frames * channels)
    chunk = struct.pack("<HHIIHH", fmt, channels, sr, (sr * block) & 0xFFFFFFFF, block & 0xFFFF,
                        bits)
    return (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt "
            + struct.pack("<I", 16) + chunk + b"data" + struct.pack("<I", len(data)) + data)


def bad_mp3() -> bytes:
    """MPEG frame headers among junk: libmpg123 complains on stderr ("Illegal Audio-MPEG-
    Header", "Trying to resync") as it reads it."""
    header = b"\xff\xfb\x90\x64"  # MPEG-1 layer III, 128 kb/s, 44.1 kHz
    return b"".join(header + bytes([i % 256]) * 413 + b"\x00\x00\x00\x00" * 40
                    for i in range(60))


HIGH_RATE = 655_350  # Hz: the memory bomb of issue 18 (14 min 50 s, 2.2 MB as FLAC)
HIGH_RATE_SECONDS = 14 * 60 + 50


def high_rate_flac(path: Path, seconds: float = HIGH_RATE_SECONDS, rate: int = HIGH_RATE) -> Path:
    """A mono FLAC at `rate` Hz, quiet but not silent (a 0.3-s tone every 10 s): small on
    disk, `seconds * rate` samples once decoded (583 million for the defaults)."""
    block = np.zeros(10 * rate, np.float32)
    block[:int(0.3 * rate)] = tone(0.3, rate)[:int(0.3 * rate)] * 0.2
    with sf.SoundFile(path, "w", rate, 1, format="FLAC", subtype="PCM_16",
                      compression_level=0.0) as f:  # fastest to write
        for start in range(0, int(seconds * rate), len(block)):
            f.write(block[:int(seconds * rate) - start])
    return path


def have_ffmpeg() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=300)


def audio_corpus(folder: Path, clip: Path, cap_seconds: float) -> list[Case]:
    """Write the audio corpus into `folder`; `clip` is a real song (ogg) under the cap."""
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(name: str, data: bytes | None, expect: str | None, category: str) -> Path:
        path = folder / name
        if data is not None:
            path.write_bytes(data)
        cases.append(Case(name, path, expect, category))
        return path

    real = clip.read_bytes()
    sr = 22050
    good = io.BytesIO()
    sf.write(good, tone(12, sr), sr, format="WAV")
    wav = good.getvalue()
    flac = io.BytesIO()
    sf.write(flac, tone(12, sr), sr, format="FLAC")
    mp3 = io.BytesIO()
    sf.write(mp3, tone(12, sr), sr, format="MP3")

    # truncated files
    for n in (4, 12, 44, 100, 1000, 4000):
        add(f"truncated-{n}.ogg", real[:n], NOT_AUDIO + "|" + SHORT, "truncated")
    add("truncated-half.ogg", real[: len(real) // 2], None, "truncated")  # 30 s still decode
    for n in (4, 30, 44, 60):
        add(f"truncated-{n}.wav", wav[:n], NOT_AUDIO + "|" + EMPTY, "truncated")
    add("truncated-tail.wav", wav[: len(wav) // 10], SHORT, "truncated")
    for n in (4, 42, 500):
        add(f"truncated-{n}.flac", flac.getvalue()[:n], NOT_AUDIO + "|" + EMPTY, "truncated")
    for n in (3, 200):
        add(f"truncated-{n}.mp3", mp3.getvalue()[:n], NOT_AUDIO + "|" + EMPTY, "truncated")
    add("junk-frames.mp3", bad_mp3(), NOT_AUDIO + "|almost no sound|" + SHORT, "truncated")
    damaged = bytearray(mp3.getvalue())  # zeros mid-stream: libmpg123 resyncs, noisily
    damaged[len(damaged) // 2:len(damaged) // 2 + 3000] = bytes(3000)
    add("damaged-middle.mp3", bytes(damaged), NOT_AUDIO, "truncated")
    add("garbage-after-header.ogg", b"OggS" + bytes(range(256)) * 40, NOT_AUDIO, "truncated")
    add("random.ogg", np.random.default_rng(0).bytes(20000), NOT_AUDIO, "truncated")

    # mislabelled files
    text = b"this is not audio\n" * 50
    for ext in ("wav", "ogg", "mp3", "flac", "m4a", "opus", "aiff", "mka", "webm", "txt"):
        add(f"text-as.{ext}", text, NOT_AUDIO, "mislabelled")
    add("png-as.ogg", b"\x89PNG\r\n\x1a\n" + bytes(2000), NOT_AUDIO, "mislabelled")
    add("pdf-as.mp3", b"%PDF-1.4\n" + text, NOT_AUDIO, "mislabelled")
    add("json-as.wav", json.dumps({"song": "x" * 1000}).encode(), NOT_AUDIO, "mislabelled")
    add("html-as.flac", b"<html><script>alert(1)</script></html>" * 20, NOT_AUDIO, "mislabelled")
    add("elf-as.ogg", b"\x7fELF" + bytes(4000), NOT_AUDIO, "mislabelled")
    add("ogg-named.wav", real, None, "mislabelled")  # mislabelled but real: analysed
    add("wav-named.mp3", wav, None, "mislabelled")
    add("flac-named.ogg", flac.getvalue(), None, "mislabelled")
    add("no-extension", real, None, "mislabelled")

    # zero-length streams and empty files
    for ext in ("wav", "ogg", "mp3", "flac", "m4a"):
        add(f"empty.{ext}", b"", EMPTY, "zero-length")
    add("zero-frames.wav", wav_header(sr, 1, 0, data=b""), EMPTY, "zero-length")
    add("zero-frames-stereo.wav", wav_header(44100, 2, 0, data=b""), EMPTY, "zero-length")
    add("one-frame.wav", wav_header(sr, 1, 1), SHORT, "zero-length")
    zero_flac = io.BytesIO()
    sf.write(zero_flac, np.zeros((0, 1), np.float32), sr, format="FLAC")
    add("zero-frames.flac", zero_flac.getvalue(), EMPTY, "zero-length")

    # channel counts
    add("channels-0.wav", wav_header(sr, 0, 100, data=bytes(200)), NOT_AUDIO + "|channels",
        "channels")
    for channels in (65, 256, 1024, 4096, 65535):
        add(f"channels-{channels}.wav", wav_header(sr, channels, 10, data=bytes(20 * channels)),
            NOT_AUDIO + "|channels", "channels")
    many = io.BytesIO()
    sf.write(many, tone(4, 8000, channels=16), 8000, format="WAV")
    add("channels-16.wav", many.getvalue(), None, "channels")

    # sample rates
    for rate in (1, 10, 100, 4000, 7999):
        add(f"rate-{rate}.wav", wav_header(rate, 1, rate * 20), RATE, "sample rate")
    add("rate-0.wav", wav_header(0, 1, 100), NOT_AUDIO + "|" + RATE, "sample rate")
    for rate in (1_000_000, 2_000_000_000, 4_294_967_295):
        add(f"rate-{rate}.wav", wav_header(rate, 1, 4000), NOT_AUDIO + "|" + RATE, "sample rate")
    ok = io.BytesIO()
    sf.write(ok, tone(5, 8000), 8000, format="WAV")
    add("rate-8000.wav", ok.getvalue(), None, "sample rate")
    hi = io.BytesIO()
    sf.write(hi, tone(4, 192000), 192000, format="WAV")
    add("rate-192000.wav", hi.getvalue(), None, "sample rate")

    # bad samples
    huge = np.full(5 * sr, 3e38, np.float32)
    huge[::2] = -3e38  # finite, but resampling overflowed it to inf
    buffer = io.BytesIO()
    sf.write(buffer, huge, sr, format="WAV", subtype="FLOAT")
    add("huge-samples.wav", buffer.getvalue(), "far outside the range of sound", "samples")
    nan = tone(5, sr)
    nan[1000:1010] = np.nan
    buffer = io.BytesIO()
    sf.write(buffer, nan, sr, format="WAV", subtype="FLOAT")
    add("nan.wav", buffer.getvalue(), "NaN", "samples")
    buffer = io.BytesIO()
    sf.write(buffer, np.full(5 * sr, np.inf, np.float32), sr, format="WAV", subtype="FLOAT")
    add("inf.wav", buffer.getvalue(), "NaN or infinite", "samples")
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(6 * sr, np.float32), sr, format="WAV")
    add("silence.wav", buffer.getvalue(), SILENT, "samples")
    buffer = io.BytesIO()
    sf.write(buffer, tone(1, sr), sr, format="WAV")
    add("one-second.wav", buffer.getvalue(), SHORT, "samples")

    # archives
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("song.ogg", real)
    for ext in ("zip", "ogg", "wav"):
        add(f"zip-as.{ext}", zipped.getvalue(), NOT_AUDIO, "archive")
    tarred = io.BytesIO()
    with tarfile.open(fileobj=tarred, mode="w") as t:
        info = tarfile.TarInfo("song.ogg")
        info.size = len(real)
        t.addfile(info, io.BytesIO(real))
    add("tar-as.ogg", tarred.getvalue(), NOT_AUDIO, "archive")
    add("song.tar", tarred.getvalue(), NOT_AUDIO, "archive")
    add("gzip-as.wav", gzip.compress(wav), NOT_AUDIO, "archive")
    add("song.ogg.gz", gzip.compress(real), NOT_AUDIO, "archive")
    add("7z-as.mp3", b"7z\xbc\xaf\x27\x1c" + bytes(3000), NOT_AUDIO, "archive")

    # playlists and reference lists that name files on the server
    target = str(clip.resolve())
    add("hls.m3u8", (f"#EXTM3U\n#EXT-X-TARGETDURATION:60\n#EXTINF:60,\n{target}\n"
                     f"#EXT-X-ENDLIST\n").encode(), NOT_AUDIO, "playlist")
    add("hls-as.ogg", (f"#EXTM3U\n#EXT-X-TARGETDURATION:60\n#EXTINF:60,\nfile://{target}\n"
                       f"#EXT-X-ENDLIST\n").encode(), NOT_AUDIO, "playlist")
    add("hls-as.mp3", f"#EXTM3U\n#EXTINF:60,\n{target}\n".encode(), NOT_AUDIO, "playlist")
    add("plain.m3u", f"{target}\n".encode(), NOT_AUDIO, "playlist")
    add("concat.ffconcat", f"ffconcat version 1.0\nfile '{target}'\n".encode(), NOT_AUDIO,
        "playlist")
    add("concat-as.wav", f"ffconcat version 1.0\nfile '{target}'\n".encode(), NOT_AUDIO,
        "playlist")
    add("shadow.ffconcat", b"ffconcat version 1.0\nfile '/etc/shadow'\n", NOT_AUDIO, "playlist")
    add("list.pls", f"[playlist]\nFile1={target}\nNumberOfEntries=1\n".encode(), NOT_AUDIO,
        "playlist")
    add("remote.m3u8", b"#EXTM3U\n#EXTINF:10,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n",
        NOT_AUDIO, "playlist")
    add("song.cue", f'FILE "{target}" WAVE\n  TRACK 01 AUDIO\n    INDEX 01 00:00:00\n'.encode(),
        NOT_AUDIO, "playlist")
    add("stream.sdp", b"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\n"
                      b"m=audio 9 RTP/AVP 0\n", NOT_AUDIO, "playlist")
    add("image-seq.ogg", b"\xff\xd8\xff\xe0" + bytes(4000), NOT_AUDIO, "playlist")

    # symlinks (the CLI sees them as they are; an upload sends the target's bytes)
    link = folder / "link-to-passwd.ogg"
    link.symlink_to("/etc/passwd")
    cases.append(Case(link.name, link, NOT_AUDIO, "symlink"))
    link = folder / "link-to-song.ogg"
    link.symlink_to(clip.resolve())
    cases.append(Case(link.name, link, None, "symlink"))
    link = folder / "link-to-folder.ogg"
    link.symlink_to(folder)
    cases.append(Case(link.name, link, "No such audio file|not a readable|is a directory",
                      "symlink"))

    # odd names
    add("名前 with spaces & ümlauts.ogg", real, None, "names")
    add("..ogg", real, None, "names")
    add("<b>bold<_b> *song* [x](y).ogg", real, None, "names")

    # long files (the cap is `cap_seconds`)
    long_sr = 48000
    with sf.SoundFile(folder / "long-hour.flac", "w", long_sr, 2, format="FLAC") as f:
        block = np.zeros((long_sr * 60, 2), np.float32)
        for _ in range(60):
            f.write(block)
    cases.append(Case("long-hour.flac", folder / "long-hour.flac", TOO_LONG, "long"))
    buffer = io.BytesIO()
    sf.write(buffer, tone(cap_seconds + 30, 8000), 8000, format="WAV")
    add("long-tone.wav", buffer.getvalue(), TOO_LONG, "long")
    if have_ffmpeg():
        ffmpeg("-f", "lavfi", "-i", f"anullsrc=r={long_sr}:cl=stereo", "-t", "3600",
               "-c:a", "flac", str(folder / "long-hour.mka"))
        cases.append(Case("long-hour.mka", folder / "long-hour.mka", TOO_LONG, "long"))
        ffmpeg("-f", "lavfi", "-i", "sine=f=440:r=44100", "-t", "12", "-c:a", "aac",
               str(folder / "tone.m4a"))
        cases.append(Case("tone.m4a", folder / "tone.m4a", None, "ffmpeg"))
        data = (folder / "tone.m4a").read_bytes()
        add("tone-truncated.m4a", data[: len(data) // 3], NOT_AUDIO + "|" + SHORT, "truncated")
        ffmpeg("-f", "lavfi", "-i", "sine=f=440:r=44100", "-f", "lavfi", "-i",
               "color=c=black:s=64x64:r=5", "-t", "12", "-c:a", "aac", "-c:v", "mpeg4",
               "-shortest", str(folder / "video.mp4"))
        cases.append(Case("video.mp4", folder / "video.mp4", None, "ffmpeg"))
        ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x64:r=5", "-t", "4", "-c:v", "mpeg4",
               str(folder / "video-no-audio.mp4"))
        cases.append(Case("video-no-audio.mp4", folder / "video-no-audio.mp4", NOT_AUDIO,
                          "zero-length"))
        add("video-no-audio.mp3", (folder / "video-no-audio.mp4").read_bytes(),
            NOT_AUDIO + "|almost no sound", "zero-length")  # a video renamed
    return cases


def word_corpus() -> list[tuple[str, str | None]]:
    """(words, regex of the refusal or None when they must be scored)."""
    many = ", ".join(f"word{i}" for i in range(201))
    return [
        ("", "at least one emotion word"),
        (" ,;\n\t ", "at least one emotion word"),
        ("\x00\x01\x02, \x1b\x7f, \x9b", "at least one emotion word"),
        ("\x1b[31mred\x1b[0m, calm", None),
        ("\u200b\u200c\u200d\ufeff", "at least one emotion word"),
        ("\U0001F622, \u2603, \u2764\ufe0f", "at least one emotion word"),
        ("!!!, ???, ..., ---", "at least one emotion word"),
        ('"""', "at least one emotion word"),
        (many, "too many"),
        (", ".join(f"w{i}" for i in range(20000)), "too many|at most 200 words"),
        ("a" * 81, "at most 80 characters"),
        ("sad " * 30, "at most 80 characters"),
        ("\ufdfa" * 5, "at most 80 characters"),  # NFKC expands each to 18 characters
        ("\ufdfa" * 8000, "characters long once normalised"),  # 144,000: over csv's limit
        ("x" * 1_000_000, "at most 80 characters"),
        ("sad\x00happy", None),
        ("\u202eyppah, sad", None),
        ("Z\u0351\u0352\u0353a\u0354\u0355lgo, calm", None),
        ('"calm, peaceful", "unbalanced', None),
        ("**bold** <img src=x onerror=alert(1)>, [link](http://x), `code`", None),
        ("$$x$$, # heading, | table |, ~~strike~~, _under_", None),
        ("'; DROP TABLE songs; --", None),
        ("\U0001F622 sad, \u2603 calm", None),
        ("Gl\u00fcck, \uff53\uff41\uff44, \u0433\u0440\u0443\u0441\u0442\u044c, \u60b2\u3057\u3044", None),
        ("\t calm \n\n\n serene \r\n", None),
        (", ".join(f"word{i}" for i in range(200)), None),
    ]
