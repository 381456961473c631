"""Tonal features: 16 interpretable numbers per segment (key/mode, tempo, brightness, loudness).

Deep features carried arousal to unseen solo piano but not valence; Krumhansl key/mode
correlations and a few tempo/timbre statistics did (docs/encoder-measurements.md, "Valence on
solo piano"). Pure numpy, explicit `sr=`; `TonalEncoder` plugs into the feature cache like any
other encoder. Except `rms_db`, every feature is invariant to the segment's gain.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .load import SILENCE_RMS  # frames below it are ignored (zero padding, gaps)
from .segments import EncodedSegments

TONAL_SAMPLE_RATE = 16000  # shared with musicnn, so one resampled song feeds both
CHROMA_FFT = 4096  # 256 ms at 16 kHz: ~4 Hz bins, enough to separate semitones above ~60 Hz
CHROMA_HOP = 2048
ONSET_FFT = 1024  # 64 ms: short enough to resolve note onsets
ONSET_HOP = 256  # 16 ms envelope resolution for tempo and onset rate
CHROMA_FMIN, CHROMA_FMAX = 60.0, 2000.0  # Hz: fundamentals, low harmonics; above is timbre
# log1p(gamma * |X| / max|X|): gain-invariant compression. Mild for chroma (gamma 100-1000
# flattened it and lowered the mode's valence AUC on 4Q train: 0.61 at 10, 0.58 at 100,
# 0.52 at 1000); the onset flux wants quiet notes too.
CHROMA_GAMMA = 10.0
ONSET_GAMMA = 10.0
LOCAL_WINDOWS = (4.0, 8.0)  # seconds, local mode sub-windows (hop LOCAL_HOP)
LOCAL_HOP = 1.0
ONSET_DELTA = 0.05  # flux (share of the mean spectral level) above the local mean for an onset
TEMPO_RANGE = (60.0, 200.0)  # BPM searched
TEMPO_PRIOR_BPM = 120.0  # log-normal prior (1 octave sd) breaks octave ties, as librosa does
BRIGHTNESS_HZ = 1500.0  # "brightness" = share of spectral magnitude above this
RMS_FLOOR_DB = -80.0

# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

TONAL_FEATURES = (
    "major_corr",       # best correlation of mean chroma with the 12 major key profiles
    "minor_corr",       # ... with the 12 minor key profiles
    "mode",             # major_corr - minor_corr: > 0 sounds major
    "key_clarity",      # best - second-best key correlation over all 24 keys
    "local_mode_4s",    # mode over overlapping 4-s windows, averaged
    "local_mode_8s",    # mode over overlapping 8-s windows, averaged
    "pc_entropy",       # entropy of mean chroma / log(12), in [0, 1]
    "harmonic_change",  # mean cosine distance between consecutive chroma frames
    "tempo_bpm",        # onset-envelope autocorrelation peak in 60-200 BPM
    "onset_rate",       # onsets per second of sounding audio
    "centroid",         # spectral centroid / Nyquist, in [0, 1]
    "brightness",       # share of magnitude above 1500 Hz
    "flatness",         # spectral flatness (geometric / arithmetic mean of power)
    "rms_db",           # RMS of sounding frames in dBFS, floored at -80
    "dynamic_range_db", # std of frame RMS in dB
    "register",         # energy-weighted mean MIDI pitch of the 60-2000 Hz bins
)


# (24, 12) z-scored key profiles: rows 0-11 major keys C..B, rows 12-23 minor keys C..B.
_ROLLED = np.array([np.roll(p, k) for p in (KK_MAJOR, KK_MINOR) for k in range(12)])
KEY_PROFILES = (_ROLLED - _ROLLED.mean(1, keepdims=True)) / _ROLLED.std(1, keepdims=True)


def _scaled(samples: int, sr: int) -> int:
    """A size given in samples at 16 kHz, as the nearest power of two at `sr`."""
    return int(2 ** round(np.log2(samples * sr / TONAL_SAMPLE_RATE)))


def _stft_mag(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(frames, n_fft // 2 + 1) magnitude, Hann window, no centring (segments are cut already)."""
    if len(y) < n_fft:
        y = np.pad(y, (0, n_fft - len(y)))
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop]
    return np.abs(np.fft.rfft(frames * np.hanning(n_fft).astype(y.dtype), axis=1))


def _log_compress(mag: np.ndarray, gamma: float) -> np.ndarray:
    peak = mag.max()
    return np.log1p(gamma * mag / peak) if peak > 0 else np.zeros_like(mag)


def _semitone_map(sr: int, n_fft: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bins of 60-2000 Hz, where each semitone's run of bins starts, and the semitones' MIDI."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    idx = np.flatnonzero((freqs >= CHROMA_FMIN) & (freqs <= CHROMA_FMAX))
    semitone = np.round(69.0 + 12.0 * np.log2(freqs[idx] / 440.0)).astype(int)
    starts = np.flatnonzero(np.diff(semitone, prepend=semitone[0] - 1))
    return idx, starts, semitone[starts]


def _semitone_spectrogram(y: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames, semitones) peak magnitude per semitone, and the semitones' MIDI numbers.

    The max, not the sum, over each semitone's bins: high semitones span more linear-frequency
    bins, and a sum would tilt the chroma towards whichever pitch classes sit highest.
    """
    n_fft, hop = _scaled(CHROMA_FFT, sr), _scaled(CHROMA_HOP, sr)
    idx, starts, midi = _semitone_map(sr, n_fft)
    return np.maximum.reduceat(_stft_mag(y, n_fft, hop)[:, idx], starts, axis=1), midi


def _fold(semitones: np.ndarray, midi: np.ndarray) -> np.ndarray:
    """(frames, semitones) -> (12, frames) chroma, C first, log-compressed."""
    onehot = (midi[:, None] % 12 == np.arange(12)).astype(np.float32)
    return (_log_compress(semitones, CHROMA_GAMMA) @ onehot).T


def tonal_chroma(y: np.ndarray, sr: int = TONAL_SAMPLE_RATE) -> np.ndarray:
    """(12, frames) chroma, C first: log-compressed peak STFT magnitude per semitone, folded."""
    return _fold(*_semitone_spectrogram(np.asarray(y, dtype=np.float32), sr))


def key_correlations(chroma: np.ndarray) -> np.ndarray:
    """Pearson correlation of 12-bin chroma vector(s) (..., 12) with the 24 key profiles."""
    c = np.asarray(chroma, dtype=np.float64)
    sd = c.std(-1, keepdims=True)
    z = np.where(sd > 0, (c - c.mean(-1, keepdims=True)) / np.where(sd > 0, sd, 1.0), 0.0)
    return z @ KEY_PROFILES.T / 12.0


def mode_score(chroma: np.ndarray) -> np.ndarray:
    """Best major minus best minor key correlation; positive reads as major."""
    r = key_correlations(chroma)
    return r[..., :12].max(-1) - r[..., 12:].max(-1)


def _local_mode(chroma: np.ndarray, seconds: float, frame_rate: float) -> float:
    """Mode over overlapping windows of `seconds` (the whole segment when shorter), averaged."""
    n = chroma.shape[1]
    width = max(1, min(n, int(round(seconds * frame_rate))))
    hop = max(1, int(round(LOCAL_HOP * frame_rate)))
    starts = range(0, n - width + 1, hop)
    means = np.stack([chroma[:, s:s + width].mean(1) for s in starts])
    return float(mode_score(means).mean())


def _tempo(envelope: np.ndarray, frame_rate: float) -> float:
    """BPM at the prior-weighted autocorrelation peak of the onset envelope (0 if flat)."""
    env = envelope - envelope.mean()
    n = len(env)
    spec = np.fft.rfft(env, 2 * n)
    acf = np.fft.irfft(spec * np.conj(spec))[:n]
    if acf[0] <= 0:
        return 0.0
    lags = np.arange(n, dtype=np.float64)
    lo = int(np.floor(60.0 * frame_rate / TEMPO_RANGE[1]))
    hi = min(n - 2, int(np.ceil(60.0 * frame_rate / TEMPO_RANGE[0])))
    if hi <= lo + 1:
        return 0.0
    bpm = 60.0 * frame_rate / np.maximum(lags[lo:hi + 1], 1e-9)
    prior = np.exp(-0.5 * np.log2(bpm / TEMPO_PRIOR_BPM) ** 2)
    weighted = acf[lo:hi + 1] / (n - lags[lo:hi + 1]) * prior  # unbiased ACF
    k = lo + int(np.argmax(weighted))
    a, b, c = acf[k - 1], acf[k], acf[k + 1]  # parabolic interpolation of the peak lag
    denom = a - 2 * b + c
    lag = k + (0.5 * (a - c) / denom if denom < 0 else 0.0)
    return float(np.clip(60.0 * frame_rate / lag, *TEMPO_RANGE))


def _onset_count(envelope: np.ndarray, frame_rate: float) -> int:
    """Envelope peaks: local maxima (+-50 ms) above the +-250 ms moving mean + ONSET_DELTA."""
    w_max, w_avg = int(round(0.05 * frame_rate)), int(round(0.25 * frame_rate))
    pad = np.pad(envelope, w_max, constant_values=-1.0)
    local_max = np.lib.stride_tricks.sliding_window_view(pad, 2 * w_max + 1).max(1)
    moving_avg = np.convolve(envelope, np.ones(2 * w_avg + 1) / (2 * w_avg + 1), mode="same")
    return int(np.sum((envelope >= local_max) & (envelope > moving_avg + ONSET_DELTA)))


def tonal_features(segment: np.ndarray, sr: int = TONAL_SAMPLE_RATE) -> np.ndarray:
    """(16,) float32 features of one mono segment, in TONAL_FEATURES order; always finite.

    Silent segments give zeros (rms_db = -80). Silent frames (e.g. the zero padding of a
    trailing segment) are left out of the averages.
    """
    y = np.asarray(segment, dtype=np.float32)
    out = np.zeros(len(TONAL_FEATURES), dtype=np.float32)
    out[TONAL_FEATURES.index("rms_db")] = RMS_FLOOR_DB
    if y.ndim != 1 or len(y) == 0 or not np.isfinite(y).all():
        raise ValueError(f"expected a finite mono segment, got shape {y.shape}")

    # Short-window STFT: onsets, tempo, timbre, loudness. Long-window chroma: key and mode.
    n_fft, hop = _scaled(ONSET_FFT, sr), _scaled(ONSET_HOP, sr)
    frame_rate = sr / hop
    mag = _stft_mag(y, n_fft, hop)
    frame_rms = np.sqrt(np.mean(np.square(
        np.lib.stride_tricks.sliding_window_view(np.pad(y, (0, max(0, n_fft - len(y)))),
                                                 n_fft)[::hop], dtype=np.float64), axis=1))
    active = frame_rms >= SILENCE_RMS
    if not active.any():
        return out
    logmag = _log_compress(mag, ONSET_GAMMA)
    # Spectral flux as a share of the segment's mean spectral level, so thresholds are absolute.
    level = max(float(logmag[active].sum(1).mean()), 1e-12)
    envelope = np.maximum(np.diff(logmag, axis=0), 0.0).sum(1) / level
    envelope[~(active[1:] & active[:-1])] = 0.0  # no onset at the edge of zero padding
    first, last = np.flatnonzero(active)[[0, -1]]
    sounding = (last - first + 1) * hop / sr  # seconds, without leading/trailing silence
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    spectrum = mag[active].mean(0)
    power = mag[active].astype(np.float64) ** 2 + 1e-12
    frame_db = 20 * np.log10(np.maximum(frame_rms[active], 10 ** (RMS_FLOOR_DB / 20)))

    values = {
        "tempo_bpm": _tempo(envelope, frame_rate),
        "onset_rate": _onset_count(envelope, frame_rate) / sounding,
        "centroid": np.sum(freqs * spectrum) / max(spectrum.sum(), 1e-12) / (sr / 2),
        "brightness": spectrum[freqs >= BRIGHTNESS_HZ].sum() / max(spectrum.sum(), 1e-12),
        "flatness": np.mean(np.exp(np.log(power).mean(1)) / power.mean(1)),
        "rms_db": 10 * np.log10(max(np.mean(frame_rms[active] ** 2), 10 ** (RMS_FLOOR_DB / 10))),
        "dynamic_range_db": frame_db.std(),
    }
    values.update(_pitch_features(y, sr))
    out[:] = [values.get(name, 0.0) for name in TONAL_FEATURES]
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def _pitch_features(y: np.ndarray, sr: int) -> dict[str, float]:
    """Key, mode, pitch-class and register features from the long-window chroma."""
    semis, midi = _semitone_spectrogram(y, sr)
    energy = np.square(semis, dtype=np.float64)
    band_energy = energy.sum(1)
    # Frames 30 dB below the loudest (padding, gaps) would pull the key estimate towards flat.
    active = band_energy > max(1e-3 * band_energy.max(), 1e-20)
    if not active.any():  # nothing in 60-2000 Hz (e.g. hi-hats only): no pitch information
        return {}
    chroma = _fold(semis, midi)[:, active]
    frame_rate = sr / _scaled(CHROMA_HOP, sr)
    mean_chroma = chroma.mean(1)
    r = key_correlations(mean_chroma)
    ranked = np.sort(r)
    p = mean_chroma / max(mean_chroma.sum(), 1e-12)
    unit = chroma / np.maximum(np.linalg.norm(chroma, axis=0), 1e-12)
    band = energy[active].mean(0)
    return {
        "major_corr": r[:12].max(),
        "minor_corr": r[12:].max(),
        "mode": r[:12].max() - r[12:].max(),
        "key_clarity": ranked[-1] - ranked[-2],
        "local_mode_4s": _local_mode(chroma, LOCAL_WINDOWS[0], frame_rate),
        "local_mode_8s": _local_mode(chroma, LOCAL_WINDOWS[1], frame_rate),
        "pc_entropy": -np.sum(p * np.log(np.maximum(p, 1e-12))) / np.log(12),
        "harmonic_change": (1 - np.sum(unit[:, 1:] * unit[:, :-1], 0)).mean()
        if unit.shape[1] > 1 else 0.0,
        "register": np.sum(midi * band) / max(band.sum(), 1e-30),
    }


class TonalEncoder:
    """The Encoder protocol over `tonal_features`: (n, samples) at 16 kHz -> (n, 16) float32."""

    name = "tonal"
    sample_rate = TONAL_SAMPLE_RATE
    feature_dim = len(TONAL_FEATURES)
    tag_names: tuple[str, ...] = ()

    def encode(self, segments: np.ndarray,
               progress: Callable[[float], None] | None = None) -> EncodedSegments:
        segments = np.atleast_2d(np.asarray(segments, dtype=np.float32))
        features = np.zeros((len(segments), self.feature_dim), dtype=np.float32)
        for i, segment in enumerate(segments):
            features[i] = tonal_features(segment, sr=self.sample_rate)
            if progress is not None:
                progress((i + 1) / len(segments))
        return EncodedSegments(features=features, tags=None)


def segment_tonal_features(segments: np.ndarray, rate: int) -> np.ndarray:
    """(S, samples) segments at `rate` -> (S, 16) tonal features (computed at 16 kHz)."""
    if rate != TONAL_SAMPLE_RATE:
        import soxr
        segments = soxr.resample(np.ascontiguousarray(segments.T), rate, TONAL_SAMPLE_RATE).T
    return TonalEncoder().encode(np.ascontiguousarray(segments, dtype=np.float32)).features
