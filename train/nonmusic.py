"""Audio that is not music, generated: what the music-likeness check is fitted and measured on.

    python -m train.nonmusic --out /tmp/nonmusic --count 40     # write WAVs to listen to

Kinds (`KINDS`): steady tones (sine, square, a sweep), noise (white, pink, brown), clicks over
silence, beeps, mains hum, and speech from espeak-ng (when installed; several voices, speeds
and texts, some with background noise). Every clip is drawn from a seeded generator, so the
same seed gives the same audio; the detector is fitted on one seed range and measured on
another (train/reference.py, bench/bench_answer.py).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

RATE = 24000  # Hz, the rate clips are generated at
SECONDS = 30.0
KINDS = ("sine", "square", "sweep", "white noise", "pink noise", "brown noise", "clicks",
         "beeps", "hum", "speech", "speech in noise")
TEXTS = (
    "Welcome to the evening news. The city council met today to discuss the new budget for "
    "schools, roads and public parks, and residents may comment until the end of the month.",
    "Please remember to bring your identity card, a pen and a printed copy of the form. The "
    "office opens at nine in the morning and closes at five in the afternoon.",
    "The experiment measured how quickly the water cooled in each container. We recorded the "
    "temperature every minute and plotted the results on a chart.",
    "Turn left at the next junction, then continue straight for two kilometres. Your "
    "destination is on the right, next to the petrol station.",
    "Thank you for calling. All of our operators are busy at the moment. Your call is "
    "important to us, please stay on the line.",
    "Chapter three. The train left the station late in the evening, and the passengers "
    "settled into their seats as the lights of the town faded behind them.",
)
VOICES = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en+f2", "en-us+f3", "en+m3")


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def _time(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * RATE)) / RATE


def _coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent (0 white, 1 pink, 2 brown)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[1:] /= f[1:] ** (exponent / 2)
    spectrum[0] = 0
    x = np.fft.irfft(spectrum, n)
    return x / (np.abs(x).max() + 1e-12)


def _speech(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """espeak-ng reading one of TEXTS with a random voice, speed and pitch, looped to length."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", str(rng.choice(VOICES)), "-s", str(rng.integers(120, 200)),
                        "-p", str(rng.integers(20, 80)), "-w", str(wav), str(rng.choice(TEXTS))],
                       check=True, capture_output=True, timeout=60)
        import soundfile as sf
        import soxr
        audio, rate = sf.read(wav, dtype="float32")
    audio = soxr.resample(audio, rate, RATE)
    reps = int(np.ceil(seconds * RATE / len(audio)))
    return np.tile(audio, reps)[: int(seconds * RATE)]


def clip(kind: str, seed: int, seconds: float = SECONDS) -> np.ndarray:
    """One clip of `kind` (float32 mono at RATE), the same for the same seed."""
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    t = _time(seconds)
    n = len(t)
    gain = rng.uniform(0.1, 0.8)
    if kind == "sine":
        x = np.sin(2 * np.pi * rng.uniform(50, 6000) * t)
    elif kind == "square":
        x = np.sign(np.sin(2 * np.pi * rng.uniform(50, 2000) * t))
    elif kind == "sweep":
        lo, hi = sorted(rng.uniform(50, 8000, 2))
        x = np.sin(2 * np.pi * np.cumsum(np.geomspace(lo, hi, n)) / RATE)
    elif kind in ("white noise", "pink noise", "brown noise"):
        x = _coloured_noise(rng, n, {"white noise": 0, "pink noise": 1, "brown noise": 2}[kind])
    elif kind == "clicks":
        x = np.zeros(n)
        if rng.random() < 0.5:
            x[:: int(RATE * rng.uniform(0.2, 2.0))] = 1.0  # a metronome-like tick
        else:
            x[rng.integers(0, n, rng.integers(10, 200))] = 1.0
        x = np.convolve(x, np.exp(-np.arange(48) / 8), "same")
    elif kind == "beeps":
        f = rng.uniform(400, 3000)
        period, on = rng.uniform(0.3, 2.0), rng.uniform(0.05, 0.3)
        x = np.sin(2 * np.pi * f * t) * ((t % period) < on)
    elif kind == "hum":
        x = sum(np.sin(2 * np.pi * rng.choice([50, 60]) * h * t) / h for h in (1, 2, 3))
        x = x + 0.05 * rng.standard_normal(n)
    elif kind in ("speech", "speech in noise"):
        x = _speech(rng, seconds)
        if kind == "speech in noise":
            x = x / (np.abs(x).max() + 1e-12) + rng.uniform(0.05, 0.3) * _coloured_noise(rng, n, 1)
    else:
        raise ValueError(f"unknown kind {kind!r}; one of {KINDS}")
    x = np.asarray(x, np.float64)
    return (gain * x / (np.abs(x).max() + 1e-12)).astype(np.float32)


def kinds_available() -> tuple[str, ...]:
    """KINDS, less speech where espeak-ng is not installed."""
    return tuple(k for k in KINDS if espeak_available() or not k.startswith("speech"))


def clips(seeds: range, kinds: tuple[str, ...] | None = None):
    """(kind, seed, audio) for every kind and seed."""
    for seed in seeds:
        for kind in kinds or kinds_available():
            yield kind, seed, clip(kind, seed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=2, help="clips per kind")
    args = parser.parse_args(argv)
    import soundfile as sf
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for kind, seed, audio in clips(range(args.count)):
        sf.write(out / f"{kind.replace(' ', '-')}-{seed}.wav", audio, RATE)
    print(f"wrote {args.count * len(kinds_available())} clips to {out}")


if __name__ == "__main__":
    main()


FIT_SEEDS, TEST_SEEDS = range(0, 30), range(1000, 1020)  # the check is fitted on one, measured on the other


def encoded(seeds: range, features_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """Every kind's clips for `seeds`, encoded as the reference corpus is (musicnn features
    and tonal features of 10-s segments): {kinds (M,), features, tonal, offsets (M + 1,)}.
    Cached under features/nonmusic/ (git-ignored): encoding takes minutes on 2 cores."""
    from emoalign.audio.load import prepare_audio, split_segments
    from emoalign.audio.encoders import load_encoder
    from emoalign.paths import features_root
    from emoalign.audio.tonal import segment_tonal_features

    kinds = kinds_available()
    path = (Path(features_dir) if features_dir else features_root()) / "nonmusic" / \
        f"seeds{seeds.start}-{seeds.stop}-{len(kinds)}kinds.npz"
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    encoder = load_encoder("musicnn", "cpu")
    names, feats, tonal, offsets = [], [], [], [0]
    for kind, _, audio in clips(seeds, kinds):
        segments = split_segments(prepare_audio(audio, RATE, encoder.sample_rate, name=kind),
                                  encoder.sample_rate)
        feats.append(encoder.encode(segments).features)
        tonal.append(segment_tonal_features(segments, encoder.sample_rate))
        names.append(kind)
        offsets.append(offsets[-1] + len(segments))
    out = {"kinds": np.array(names), "features": np.concatenate(feats).astype(np.float32),
           "tonal": np.concatenate(tonal).astype(np.float32), "offsets": np.array(offsets)}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out
