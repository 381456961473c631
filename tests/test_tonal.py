"""Tonal features: synthetic music with a known key, tempo and silence; real clips against librosa
and against 4Q valence."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf
import soxr

from conftest import EXAMPLES, dataset_dir

from emoalign.audio.tonal import (TONAL_FEATURES, TONAL_SAMPLE_RATE, TonalEncoder, mode_score,
                                  tonal_chroma, tonal_features)

SR = TONAL_SAMPLE_RATE
F = {name: i for i, name in enumerate(TONAL_FEATURES)}
MAJOR_CADENCE = [(0, 4, 7), (5, 9, 12), (7, 11, 14), (0, 4, 7)]  # I IV V I
MINOR_CADENCE = [(0, 3, 7), (5, 8, 12), (7, 11, 14), (0, 3, 7)]  # i iv V i (harmonic minor)
MAJOR_SCALE, MINOR_SCALE = (0, 2, 4, 5, 7, 9, 11, 12), (0, 2, 3, 5, 7, 8, 10, 12)


def notes(chords, tonic: int = 60, seconds: float = 10.0) -> np.ndarray:
    """Piano-like tones (decaying harmonics) playing `chords` (semitones above `tonic`) in turn,
    each twice, with a bass note an octave below the chord root."""
    step = int(seconds * SR / (2 * len(chords)))
    t = np.arange(step) / SR
    out = []
    for chord in list(chords) * 2:
        tone = np.zeros(step)
        for midi in [tonic + chord[0] - 12] + [tonic + c for c in chord]:
            f0 = 440.0 * 2 ** ((midi - 69) / 12)
            for h in range(1, 5):
                tone += np.sin(2 * np.pi * f0 * h * t) / h ** 2
        out.append(tone * np.exp(-2.0 * t))
    y = np.concatenate(out)
    return (0.2 * y / np.abs(y).max()).astype(np.float32)


def test_constants_and_encoder_protocol():
    assert len(TONAL_FEATURES) == 16 == len(set(TONAL_FEATURES))
    encoder = TonalEncoder()
    assert (encoder.name, encoder.sample_rate, encoder.feature_dim, encoder.tag_names) == \
        ("tonal", SR, 16, ())
    segments = np.stack([notes(MAJOR_CADENCE), np.zeros(10 * SR, np.float32)])
    seen = []
    encoded = encoder.encode(segments, progress=seen.append)
    assert encoded.features.shape == (2, 16) and encoded.features.dtype == np.float32
    assert encoded.tags is None and seen[-1] == 1.0
    np.testing.assert_array_equal(encoded.features[0], tonal_features(segments[0]))


@pytest.mark.parametrize("major, minor", [(MAJOR_CADENCE, MINOR_CADENCE),
                                          ([MAJOR_SCALE], [MINOR_SCALE])])
def test_major_reads_major_and_minor_reads_minor(major, minor):
    if len(major) == 1:  # a scale: one note at a time
        major, minor = [(n,) for n in major[0]], [(n,) for n in minor[0]]
    f_major, f_minor = tonal_features(notes(major)), tonal_features(notes(minor))
    assert f_major[F["mode"]] > 0.05 and f_minor[F["mode"]] < -0.05
    assert f_major[F["local_mode_8s"]] > 0 > f_minor[F["local_mode_8s"]]
    assert f_major[F["key_clarity"]] > 0.05 and f_minor[F["key_clarity"]] > 0.05


def test_mode_score_is_transposition_invariant():
    modes = [tonal_features(notes(MAJOR_CADENCE, tonic=tonic))[F["mode"]]
             for tonic in range(57, 69)]
    # Not exact on audio: low semitones span only 1-2 FFT bins, so their leakage differs by key.
    assert min(modes) > 0.2
    assert max(modes) - min(modes) < 0.15
    # On chroma itself the invariance is exact: rolling pitch classes does not change the mode.
    chroma = tonal_chroma(notes(MINOR_CADENCE)).mean(1)
    np.testing.assert_allclose([mode_score(np.roll(chroma, k)) for k in range(12)],
                               mode_score(chroma), atol=1e-9)


def test_click_track_tempo_and_onset_rate():
    y = np.zeros(10 * SR, np.float32)
    click = np.hanning(160) * np.sin(2 * np.pi * 1000 * np.arange(160) / SR)
    for start in np.arange(0, 10, 0.5):  # 120 BPM
        y[int(start * SR):int(start * SR) + 160] += 0.5 * click
    f = tonal_features(y)
    assert abs(f[F["tempo_bpm"]] - 120) < 6
    assert 1.8 <= f[F["onset_rate"]] <= 2.2


def test_silence_noise_and_short_segments_are_finite():
    silence = tonal_features(np.zeros(10 * SR, np.float32))
    assert silence[F["rms_db"]] == -80 and np.count_nonzero(silence) == 1
    noise = np.random.default_rng(0).standard_normal(10 * SR).astype(np.float32)
    for y in (noise, 1e-6 * noise, noise[:3 * SR], notes(MAJOR_CADENCE, seconds=3.0),
              np.pad(notes(MAJOR_CADENCE, seconds=4.0), (0, 6 * SR))):
        f = tonal_features(y)
        assert f.shape == (16,) and f.dtype == np.float32 and np.isfinite(f).all()
    # Zero padding (a trailing segment) does not move the features of what sounds.
    short = notes(MINOR_CADENCE, seconds=5.0)
    padded = tonal_features(np.pad(short, (0, 5 * SR)))
    np.testing.assert_allclose(padded[F["mode"]], tonal_features(short)[F["mode"]], atol=0.03)
    # Gain changes only rms_db.
    louder = tonal_features(4 * short) - tonal_features(short)
    assert abs(louder[F["rms_db"]] - 12.04) < 0.1
    np.testing.assert_allclose(np.delete(louder, F["rms_db"]), 0, atol=1e-3)


def test_chroma_agrees_with_librosa_on_real_clips():
    librosa = pytest.importorskip("librosa")
    # librosa estimates tuning and normalises each frame, so only near-agreement is expected.
    agree = near = 0
    tracks = sorted(EXAMPLES.glob("*.ogg"))  # the six bundled examples
    for track in tracks:
        audio, file_sr = sf.read(track, dtype="float32", always_2d=True)
        y = soxr.resample(audio.mean(1), file_sr, SR)[10 * SR:20 * SR]  # past the fade-in
        ours = tonal_chroma(y).mean(1)
        theirs = librosa.feature.chroma_stft(y=y, sr=SR, n_fft=4096, hop_length=2048).mean(1)
        agree += int(np.argmax(ours) == np.argmax(theirs))
        near += int(np.argmax(theirs) in np.argsort(ours)[-3:])
        assert np.corrcoef(ours, theirs)[0, 1] > 0.6
    assert agree >= len(tracks) // 2 and near >= len(tracks) - 1


def test_mode_is_higher_for_positive_valence_on_4q():
    """Real-data sanity check: 40 train clips of each valence, first 10 s each. Weak on pop
    (mode mostly separates Q2 metal from the rest), so only the direction is asserted."""
    root = dataset_dir("4q", "compares valence quadrants that listeners gave 80 clips") / "4q"
    with open(root / "metadata.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "train"]
    modes = {True: [], False: []}
    for quadrant, positive in (("Q1", True), ("Q4", True), ("Q2", False), ("Q3", False)):
        for row in [r for r in rows if r["Quadrant"] == quadrant][:20]:
            with sf.SoundFile(root / row["file"]) as f:
                audio, file_sr = f.read(frames=10 * f.samplerate, dtype="float32",
                                        always_2d=True), f.samplerate
            y = soxr.resample(audio.mean(1), file_sr, SR)
            modes[positive].append(tonal_features(y)[F["local_mode_8s"]])
    assert len(modes[True]) == len(modes[False]) == 40
    assert np.mean(modes[True]) > np.mean(modes[False])
