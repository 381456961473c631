"""Audio in: real decoding (soundfile/libsndfile), mono mixing, soxr resampling, segmentation,
and the user-facing errors for bad input."""

import numpy as np
import pytest
import soundfile as sf
import soxr

from emoalign.audio.load import (AudioError, load_audio, prepare_audio, silent_segments,
                                 split_segments)
from conftest import CALM_SONG, LIVELY_SONG, tone


def dominant_frequency(audio: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / sr)[spectrum.argmax()])


def test_real_opus_clip_decodes_to_its_duration(tmp_path):
    """Music as the datasets ship it: mono 24 kHz Ogg/Opus (here a bundled example, encoded)."""
    music, sr = sf.read(LIVELY_SONG, dtype="float32")
    path = tmp_path / "lively.ogg"
    sf.write(path, soxr.resample(music.mean(axis=1), sr, 24000), 24000, format="OGG",
             subtype="OPUS")
    audio = load_audio(path, 16000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) / 16000 - 30.0) < 0.05
    assert 0.001 < np.sqrt(np.mean(audio ** 2)) < 1.0


@pytest.mark.parametrize("fmt,suffix", [("WAV", "wav"), ("FLAC", "flac"), ("OGG", "ogg"),
                                        ("MP3", "mp3")])
def test_formats_decode_and_resample(tmp_path, fmt, suffix):
    if fmt not in sf.available_formats():
        pytest.skip(f"this libsndfile cannot write {fmt}")
    path = tmp_path / f"tone.{suffix}"
    sf.write(path, tone(440, 4, 44100), 44100, format=fmt)
    audio = load_audio(path, 16000)
    assert abs(len(audio) / 16000 - 4) < 0.1
    assert abs(dominant_frequency(audio, 16000) - 440) < 3


@pytest.mark.parametrize("file_sr", [8000, 11025, 22050, 96000])
def test_odd_sample_rates_resample_to_the_encoder_rate(tmp_path, file_sr):
    path = tmp_path / "tone.wav"
    sf.write(path, tone(1000, 5, file_sr), file_sr)
    audio = load_audio(path, 24000)
    assert len(audio) == pytest.approx(5 * 24000, abs=2)
    assert abs(dominant_frequency(audio, 24000) - 1000) < 3


def test_stereo_is_averaged_not_one_channel(tmp_path):
    left, right = tone(440, 4, 16000, 0.6), tone(440, 4, 16000, 0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    audio = load_audio(path, 16000)
    np.testing.assert_allclose(audio, (left + right) / 2, atol=1e-6)


def test_segments_keep_a_long_remainder_and_drop_a_short_one():
    sr = 1000
    assert split_segments(np.ones(25 * sr, np.float32), sr).shape == (3, 10 * sr)  # 5 s kept
    assert split_segments(np.ones(21 * sr, np.float32), sr).shape == (2, 10 * sr)  # 1 s dropped
    padded = split_segments(np.ones(4 * sr, np.float32), sr)
    assert padded.shape == (1, 10 * sr) and padded[0, 4 * sr:].sum() == 0
    with pytest.raises(AudioError, match="at least 3 s"):
        split_segments(np.ones(2 * sr, np.float32), sr)


def test_silence_is_detected_per_segment():
    sr = 1000
    audio = np.concatenate([tone(50, 10, sr), np.zeros(10 * sr, np.float32), tone(50, 10, sr)])
    assert silent_segments(split_segments(audio, sr)).tolist() == [False, True, False]


def test_nan_and_inf_samples_are_refused(tmp_path):
    bad = tone(440, 4, 16000)
    bad[100] = np.nan
    with pytest.raises(AudioError, match="NaN or infinite"):
        prepare_audio(bad, 16000, 16000)
    path = tmp_path / "nan.wav"
    sf.write(path, bad, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="damaged"):
        load_audio(path, 16000)


def test_empty_corrupt_and_unknown_files_get_clear_messages(tmp_path, monkeypatch):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(empty, 16000)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF" + bytes(range(256)) * 20)
    with pytest.raises(AudioError, match="corrupt.wav"):
        load_audio(corrupt, 16000)
    monkeypatch.setenv("PATH", "")  # as on a machine without ffmpeg
    text = tmp_path / "notes.xyz"
    text.write_text("not audio at all")
    with pytest.raises(AudioError, match=r"'\.xyz'.*ffmpeg"):
        load_audio(text, 16000)
    with pytest.raises(AudioError, match="No such audio file"):
        load_audio(tmp_path / "missing.wav", 16000)


def test_long_songs_are_refused_or_trimmed(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, tone(220, 30, 8000), 8000)
    with pytest.raises(AudioError, match="limit is"):
        load_audio(path, 16000, max_seconds=20)
    trimmed = load_audio(path, 16000, max_seconds=20, trim=True)
    assert abs(len(trimmed) / 16000 - 20) < 0.01


def test_mono_downmix_equals_mean() -> None:
    """The fast channel-by-channel downmix gives numpy's mean exactly (up to 7 channels)."""
    from emoalign.audio.load import _mono
    rng = np.random.default_rng(0)
    for channels in range(1, 8):
        block = rng.uniform(-1, 1, (5000, channels)).astype(np.float32)
        mono = _mono(block)
        assert mono.dtype == np.float32 and mono.shape == (5000,)
        np.testing.assert_array_equal(mono, block.mean(axis=1, dtype=np.float32))


@pytest.mark.parametrize("fmt,suffix", [("OGG-OPUS", "opus.ogg"), ("OGG", "ogg"), ("MP3", "mp3"),
                                        ("WAV", "wav")])
def test_long_files_decode_in_halves_to_the_same_samples(tmp_path, monkeypatch, fmt, suffix):
    """Files over PARALLEL_DECODE_SECONDS are decoded as two halves at once: the samples are
    those of one pass (libsndfile seeks sample-exactly), trimmed or not."""
    from emoalign.audio.load import PARALLEL_DECODE_SECONDS, _decode_halves
    music = np.concatenate([soxr.resample(sf.read(song, dtype="float32")[0].mean(axis=1), 44100,
                                          24000) for song in (LIVELY_SONG, CALM_SONG)] * 2)
    assert len(music) / 24000 > 2 * PARALLEL_DECODE_SECONDS
    fmt, _, subtype = fmt.partition("-")
    if fmt not in sf.available_formats():
        pytest.skip(f"this libsndfile cannot write {fmt}")
    path = tmp_path / f"song.{suffix}"
    stereo = np.stack([music, 0.5 * music[::-1]], axis=1)
    with sf.SoundFile(path, "w", 24000, 2, format=fmt, subtype=subtype or None) as f:
        for start in range(0, len(stereo), 1 << 15):  # libsndfile's Vorbis writer crashes on
            f.write(stereo[start:start + (1 << 15)])  # a minute written in one call
    with sf.SoundFile(path) as f:
        assert _decode_halves(path, f, sf.info(str(path)), None, "song", 24000)  # two halves
    halves = load_audio(path, 24000), load_audio(path, 24000, max_seconds=70, trim=True)
    monkeypatch.setattr("emoalign.audio.load.PARALLEL_DECODE_SECONDS", float("inf"))  # one pass
    # libsndfile's MP3 reader rounds a sample differently now and then (a float32 step, 1e-7)
    # with the size of the read; the other decoders give the very same samples.
    atol = 1e-6 if fmt == "MP3" else 0
    np.testing.assert_allclose(halves[0], load_audio(path, 24000), rtol=0, atol=atol)
    np.testing.assert_allclose(halves[1], load_audio(path, 24000, max_seconds=70, trim=True),
                               rtol=0, atol=atol)
    assert len(halves[1]) == 70 * 24000


@pytest.mark.parametrize("rate", [44100, 655350])
def test_halves_resampled_at_once_match_one_pass(tmp_path, monkeypatch, rate):
    """Each half has its own streaming resampler; where they meet the samples are those of
    one pass within 1e-6 at 44.1 kHz, 5e-6 at 655 kHz (soxr decimates that in stages whose
    phase the second half starts afresh: -106 dB, far below anything an encoder hears)."""
    rng = np.random.default_rng(0)
    seconds = 2 * 30 + 3
    music = (0.1 * rng.standard_normal(seconds * rate)).astype(np.float32)
    path = tmp_path / "noise.wav"
    sf.write(path, music, rate, subtype="FLOAT")
    halves = load_audio(path, 16000), load_audio(path, 16000, max_seconds=50, trim=True)
    monkeypatch.setattr("emoalign.audio.load.PARALLEL_DECODE_SECONDS", float("inf"))  # one pass
    one, atol = load_audio(path, 16000), 1e-6 if rate == 44100 else 5e-6
    np.testing.assert_allclose(halves[0], one, rtol=0, atol=atol)
    np.testing.assert_allclose(halves[0], prepare_audio(music, rate, 16000), rtol=0, atol=atol)
    np.testing.assert_allclose(halves[1], prepare_audio(music[:50 * rate], rate, 16000),
                               rtol=0, atol=atol)
    assert len(halves[1]) == 50 * 16000


def test_samples_far_outside_the_range_are_refused(tmp_path):
    huge = np.full(5 * 22050, 3e38, np.float32)
    huge[::2] = -3e38
    path = tmp_path / "huge.wav"
    sf.write(path, np.stack([huge, huge], axis=1), 22050, subtype="FLOAT")
    for call in (lambda: load_audio(path, 16000), lambda: prepare_audio(huge, 22050, 16000)):
        with pytest.raises(AudioError, match="far outside the range of sound"):
            call()
