"""The PyTorch musicnn port against the original TensorFlow outputs on real audio.

tests/fixtures/musicnn_reference.npz comes from tools/musicnn_reference.py (TensorFlow, the
wheel's own graph and front end) on Emotify clips, so that comparison needs Emotify; the other
tests use the bundled examples (assets/examples).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from conftest import EXAMPLES
from emoalign.audio.encoders import load_encoder
from emoalign.text.labels import load_label_set
from emoalign.audio.musicnn import (PATCH_FRAMES, Musicnn, MusicnnEncoder, load_musicnn,
                                    log_mel_spectrogram, mel_filters)

REFERENCE = np.load(Path(__file__).parent / "fixtures" / "musicnn_reference.npz")


def excerpt(path: Path, start: float, duration: float, sr: int = 16000) -> np.ndarray:
    """An excerpt at 16 kHz, decoded as tools/musicnn_reference.py decodes it."""
    with sf.SoundFile(path) as f:
        f.seek(int(start * f.samplerate))
        audio = f.read(int(duration * f.samplerate), dtype="float32", always_2d=True).mean(1)
        return soxr.resample(audio, f.samplerate, sr, quality="HQ").astype(np.float32)


@pytest.fixture(scope="module")
def encoder() -> MusicnnEncoder:
    return MusicnnEncoder(device="cpu", models=("mtt", "msd"))


@pytest.mark.parametrize("name", ["mtt", "msd"])
def test_parameter_count(name: str) -> None:
    model, tags = load_musicnn(name)
    n = sum(t.numel() for t in model.state_dict().values() if t.is_floating_point())
    assert n == 792_079  # as in the TensorFlow checkpoint (weights and BatchNorm statistics)
    assert len(tags) == 50 and tags == list(REFERENCE[f"{name}_tags"])
    assert isinstance(model, Musicnn) and not model.training


def test_mel_filters_match_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    expected = librosa.filters.mel(sr=16000, n_fft=512, n_mels=96)
    np.testing.assert_allclose(mel_filters().numpy(), expected, rtol=0, atol=1e-7)


def test_log_mel_matches_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, 16000 * 2).astype(np.float32)
    mel = librosa.feature.melspectrogram(y=audio, sr=16000, n_fft=512, hop_length=256,
                                         n_mels=96).T.astype(np.float16)
    expected = np.log10(10000 * mel.astype(np.float32) + 1)
    ours = log_mel_spectrogram(torch.from_numpy(audio)).numpy()
    assert ours.shape == expected.shape == (1 + len(audio) // 256, 96)
    # Rounding to float16 may land one step apart: up to 2**-10 relative, 4.3e-4 after log10.
    np.testing.assert_allclose(ours, expected, rtol=0, atol=5e-4)
    assert np.mean(np.abs(ours - expected) > 1e-5) < 0.01


@pytest.mark.parametrize("name", ["mtt", "msd"])
def test_matches_tensorflow(name: str, clip) -> None:
    model, _ = load_musicnn(name)
    start, duration = float(REFERENCE["start_s"]), float(REFERENCE["duration_s"])
    why = "the TensorFlow outputs in the fixture were computed on Emotify clips"
    audio = np.stack([excerpt(clip(track, why), start, duration) for track in REFERENCE["clips"]])
    np.testing.assert_allclose(np.square(audio, dtype=np.float64).sum(1),
                               REFERENCE["audio_sum_sq"], rtol=1e-6,
                               err_msg="the clips decode differently from the fixture's")
    mel = log_mel_spectrogram(torch.from_numpy(audio))
    n_patches = REFERENCE[f"{name}_taggram"].shape[1]  # non-overlapping, as musicnn's extractor
    patches = torch.stack([mel[:, i * PATCH_FRAMES:(i + 1) * PATCH_FRAMES]
                           for i in range(n_patches)], dim=1)
    with torch.inference_mode():
        logits, penultimate = model(patches.flatten(0, 1))
    taggram = logits.sigmoid().view(len(audio), n_patches, -1).numpy()
    penultimate = penultimate.view(len(audio), n_patches, -1).numpy()
    # Seen: taggram within 4e-6, penultimate within 3e-5 (values up to 2.8).
    np.testing.assert_allclose(taggram, REFERENCE[f"{name}_taggram"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(penultimate, REFERENCE[f"{name}_penultimate"], rtol=0, atol=5e-4)


# bundled examples: strings, a driving electronic track, a relaxed jazz-pop piece
STRINGS, ELECTRONIC, JAZZ_POP = (EXAMPLES / name for name in (
    "wesnoth_sad.ogg", "etr_credits.ogg", "openclonk_offshore.ogg"))


def test_encoder_outputs(encoder: MusicnnEncoder) -> None:
    segments = np.stack([excerpt(song, start, 10)
                         for song, start in [(STRINGS, 0), (ELECTRONIC, 0), (JAZZ_POP, 20)]])
    assert segments.shape == (3, 160000)
    done: list[float] = []
    out = encoder.encode(segments, progress=done.append)
    assert encoder.name == "musicnn" and encoder.sample_rate == 16000
    assert encoder.feature_dim == 400 and len(encoder.tag_names) == 100
    assert encoder.tag_names[0] == "mtt:guitar" and "msd:rock" in encoder.tag_names
    assert out.features.shape == (3, 400) and out.features.dtype == np.float32
    assert out.tags.shape == (3, 100) and out.tags.dtype == np.float32
    assert np.isfinite(out.features).all()
    assert ((out.tags > 0) & (out.tags < 1)).all()
    assert done and done[-1] == 1.0
    # Different music, different features: strings vs electronic vs jazz-pop.
    distances = np.linalg.norm(out.features[:, None] - out.features[None], axis=-1)
    scale = np.linalg.norm(out.features, axis=1).mean()
    assert distances[np.triu_indices(3, 1)].min() > 0.1 * scale
    tags = dict(zip(encoder.tag_names, out.tags[0]))
    assert tags["mtt:classical"] > tags["mtt:rock"]  # strings

    # Chunking does not change the result; one model gives its half of the features.
    again = MusicnnEncoder(device="cpu", models=("msd",), batch_size=3).encode(segments[:2])
    assert again.features.shape == (2, 200) and again.tags.shape == (2, 50)
    np.testing.assert_allclose(again.features, out.features[:2, 200:], atol=1e-5)
    np.testing.assert_allclose(again.tags, out.tags[:2, 50:], atol=1e-6)


def test_encoder_short_and_silent_segments(encoder: MusicnnEncoder) -> None:
    out = encoder.encode(np.zeros((2, 16000), np.float32))  # 1 s: padded to one patch
    assert out.features.shape == (2, 400) and np.isfinite(out.features).all()
    assert encoder.encode(np.zeros((0, 160000), np.float32)).features.shape == (0, 400)
    with pytest.raises(ValueError):
        encoder.encode(np.zeros(16000, np.float32))


def test_registry_default_is_mtt() -> None:
    encoder = load_encoder("musicnn", device="cpu")
    assert isinstance(encoder, MusicnnEncoder) and list(encoder.nets) == ["mtt"]
    assert encoder.feature_dim == 200 and len(encoder.tag_names) == 50
    assert load_encoder("musicnn", device="cpu", models="msd").tag_names[0] == "msd:rock"
    with pytest.raises(ValueError):
        MusicnnEncoder(device="cpu", models=("mtt", "vgg"))


def test_onnx_backend_matches_torch(pipeline) -> None:
    """The CPU fast path (ONNX Runtime, assets/encoders/*.onnx, its front-end filters factored
    to low rank by tools/export_musicnn_onnx.py) against the float32 PyTorch network: features
    match, and calibrated scores and valence/arousal of real songs (the six bundled examples:
    strings, electronic, jazz-pop, orchestral) move by at most 0.01 (seen: 0.001, as much as the
    unfactored export moved them)."""
    pytest.importorskip("onnxruntime")
    import json
    segments = np.stack([excerpt(song, start, 10)
                         for song, start in [(STRINGS, 0), (ELECTRONIC, 0), (JAZZ_POP, 20)]])
    fast = MusicnnEncoder(device="cpu", models=("mtt", "msd"), backend="onnx")
    slow = MusicnnEncoder(device="cpu", models=("mtt", "msd"), backend="torch")
    assert (fast.backend, slow.backend) == ("onnx", "torch")
    ours, reference = fast.encode(segments), slow.encode(segments)
    np.testing.assert_allclose(ours.features, reference.features, rtol=0, atol=1e-4)
    np.testing.assert_allclose(ours.tags, reference.tags, rtol=0, atol=1e-5)
    ranks = json.loads(fast.runners["mtt"].session.get_modelmeta()
                       .custom_metadata_map["front_end_ranks"])
    assert ranks["timbral.0"] < 204 and ranks["timbral.1"] < 204  # the shipped file is factored

    assert pipeline.encoder.backend == "onnx"  # the product default on CPU
    songs = sorted(EXAMPLES.glob("*.ogg"))
    words = list(load_label_set("mtg").labels) + list(load_label_set("gems").labels)
    default_encoder, torch_encoder = pipeline.encoder, MusicnnEncoder(device="cpu", backend="torch")
    for song in songs:
        fast_song = pipeline.analyze(song)
        try:
            pipeline.encoder = torch_encoder
            torch_song = pipeline.analyze(song)
        finally:
            pipeline.encoder = default_encoder
        fast_scores, torch_scores = pipeline.score(fast_song, words), pipeline.score(torch_song,
                                                                                     words)
        assert np.abs(fast_scores.song_scores - torch_scores.song_scores).max() <= 0.01, song.name
        assert np.abs(fast_scores.segment_scores - torch_scores.segment_scores).max() <= 0.01
        fast_va = pipeline.valence_arousal(fast_song)
        torch_va = pipeline.valence_arousal(torch_song)
        assert abs(fast_va.valence - torch_va.valence) <= 0.01
        assert abs(fast_va.arousal - torch_va.arousal) <= 0.01


def test_stale_onnx_export_falls_back_to_torch(tmp_path) -> None:
    """An .onnx exported from other weights than the shipped safetensors is not used."""
    pytest.importorskip("onnxruntime")
    from emoalign.audio.musicnn import weights_path
    from emoalign.audio.musicnn_onnx import load_onnx_musicnn

    other = tmp_path / "other.safetensors"
    other.write_bytes(weights_path("mtt").read_bytes() + b" ")  # any other bytes
    assert load_onnx_musicnn(weights_path("mtt", "onnx"), other, 1) is None
    assert load_onnx_musicnn(weights_path("mtt", "onnx"), weights_path("mtt"), 1) is not None
    assert load_onnx_musicnn(tmp_path / "missing.onnx", weights_path("mtt"), 1) is None
    with pytest.raises(ValueError):
        MusicnnEncoder(device="cpu", backend="tflite")


def test_low_rank_front_end_keeps_the_network() -> None:
    """tools/musicnn_lowrank.py (what tools/export_musicnn_onnx.py runs): factoring the front
    end on real log-mel patches leaves a network that still runs (its temporal blocks are
    padded by their kernel size) and gives the same outputs on other real patches."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
    from musicnn_lowrank import FactoredBlock, factorise

    def patches(song: Path) -> torch.Tensor:
        mel = log_mel_spectrogram(torch.from_numpy(excerpt(song, 0, 30)[None]))
        return torch.stack([mel[0, s:s + PATCH_FRAMES] for s in range(0, 1500, 90)])

    fit, other = torch.cat([patches(STRINGS), patches(JAZZ_POP)]), patches(ELECTRONIC)
    model, _ = load_musicnn("mtt")
    with torch.inference_mode():
        expected = model(other)
    ranks = factorise(model, fit, tolerance=1e-6)
    assert isinstance(model.timbral[0], FactoredBlock) and ranks["timbral.0"] < 204
    assert any(isinstance(block, FactoredBlock) for block in model.temporal)
    with torch.inference_mode():
        logits, penultimate = model(other)
    assert (penultimate - expected[1]).abs().max() < 1e-4  # seen: 4e-6
    assert (logits - expected[0]).abs().max() < 1e-4  # seen: 1e-5
