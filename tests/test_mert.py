"""MertEncoder end to end on a RANDOMLY INITIALISED HubertModel.

No hub weights here (no network): the model is `HubertModel(mert_config())`, i.e. the real
MERT-v1-95M architecture from the shipped assets/encoders/mert-v1-95m/config.json (94.4 M
parameters) with random weights, so the feature values mean nothing, but shapes, layer choice,
normalisation, batching, chunking and loading are those of the real encoder. The audio is one
of the bundled examples (assets/examples, 30 s). A 10-s segment costs about 2 s of CPU, so only two go through
the model; batching and chunking are checked on 0.5-s rows (the encoder is length-agnostic).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import HubertModel, Wav2Vec2FeatureExtractor

from emoalign.audio.load import load_audio, split_segments
from emoalign.audio.encoders import Encoder
from emoalign.audio.mert import (FRAME_RATE, HUB_ID, LAYERS, SAMPLE_RATE, MertEncoder,
                                 MertWeightsError, mert_config)

from conftest import CALM_SONG as CLIP  # noqa: E402
ROW = SAMPLE_RATE // 2  # 0.5-s rows where the segment length does not matter
ATOL = 1e-4  # batched vs single matmuls differ in the last float32 bits


def _tensor(output):
    return output[0] if isinstance(output, tuple) else output


@pytest.fixture(scope="module")
def model() -> HubertModel:
    torch.manual_seed(0)
    return HubertModel(mert_config()).eval()


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    return load_audio(CLIP, SAMPLE_RATE)


@pytest.fixture(scope="module")
def segments(audio) -> np.ndarray:
    return split_segments(audio, SAMPLE_RATE)[:2]  # two real 10-s segments


@pytest.fixture(scope="module")
def encoded(model, segments) -> dict:
    """The two segments through MertEncoder (one batch), recording the model along the way.

    features, fractions (progress calls), inputs (what the model received), hidden (its
    hidden_states) and layers {k: tensor} from hooks on `model.encoder.layers`, independent of
    `hidden_states`: 0 is the input of the first layer, k = 1..12 the output of layer k.
    """
    fractions, inputs, hidden, layers = [], [], [], {}
    hooks = [model.register_forward_pre_hook(lambda m, args: inputs.append(args[0].clone())),
             model.register_forward_hook(lambda m, args, out: hidden.extend(out.hidden_states)),
             model.encoder.layers[0].register_forward_pre_hook(
                 lambda m, args: layers.__setitem__(0, args[0].clone()))]
    hooks += [layer.register_forward_hook(
        lambda m, args, out, k=k: layers.__setitem__(k, _tensor(out).clone()))
        for k, layer in enumerate(model.encoder.layers, start=1)]
    try:
        encoder = MertEncoder(model=model, device="cpu", batch_size=4)
        out = encoder.encode(segments, fractions.append)
    finally:
        for hook in hooks:
            hook.remove()
    assert out.tags is None
    return {"features": out.features, "fractions": fractions, "inputs": torch.cat(inputs).numpy(),
            "hidden": hidden, "layers": layers}


@pytest.fixture(scope="module")
def chunked(model, audio) -> dict:
    """13 short rows with batch_size 4, counting the model's forward passes and their sizes."""
    rows = audio[:13 * ROW].reshape(13, ROW)
    sizes, fractions = [], []
    hook = model.register_forward_hook(lambda m, args, out: sizes.append(len(args[0])))
    try:
        encoder = MertEncoder(model=model, device="cpu", batch_size=4)
        features = encoder.encode(rows, fractions.append).features
    finally:
        hook.remove()
    return {"rows": rows, "features": features, "sizes": sizes, "fractions": fractions}


def test_contract(model):
    encoder = MertEncoder(model=model, device="cpu")
    assert all(hasattr(encoder, a) for a in Encoder.__annotations__) and callable(encoder.encode)
    assert (encoder.name, encoder.sample_rate, encoder.feature_dim) == ("mert-v1-95m", 24000, 3072)
    assert encoder.tag_names == ()
    assert encoder.layers == LAYERS == (3, 6, 9, 12)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(94.4e6, rel=0.01)


def test_features_shape_dtype_finite(encoded, segments):
    features = encoded["features"]
    assert features.shape == (len(segments), 3072)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()
    assert np.ptp(features, axis=0).max() > 0  # segments differ
    assert encoded["fractions"] == [1.0]


def test_layer_choice(encoded):
    """Features = time-mean of the outputs of transformer layers 3, 6, 9, 12, concatenated.

    Also pins down the indexing: hidden_states[0] is the input of layer 1 (the CNN features
    after projection, position convolution and LayerNorm), hidden_states[k] the output of layer k.
    """
    hidden, layers = encoded["hidden"], encoded["layers"]
    assert len(hidden) == 13
    assert abs(hidden[0].shape[1] - FRAME_RATE * 10) <= 1  # 75 frames per second
    for k in range(13):
        torch.testing.assert_close(hidden[k], layers[k])
    expected = torch.cat([layers[k].mean(dim=1) for k in (3, 6, 9, 12)], dim=1).numpy()
    np.testing.assert_allclose(encoded["features"], expected, atol=1e-6, rtol=1e-6)
    shifted = torch.cat([layers[k].mean(dim=1) for k in (2, 5, 8, 11)], dim=1).numpy()
    assert not np.allclose(encoded["features"], shifted, atol=1e-3)


def test_per_segment_normalisation(encoded, segments, model, audio):
    """Each row is normalised on its own, exactly as Wav2Vec2FeatureExtractor does."""
    received = encoded["inputs"]
    reference = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE,
                                         padding_value=0.0, do_normalize=True,
                                         return_attention_mask=False)
    expected = reference(list(segments), sampling_rate=SAMPLE_RATE,
                         return_tensors="np").input_values
    np.testing.assert_allclose(received, expected, atol=1e-5)
    np.testing.assert_allclose(received.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(received.std(axis=1), 1, atol=1e-4)
    row = audio[None, :ROW]  # hence features do not depend on the gain
    encoder = MertEncoder(model=model, device="cpu")
    np.testing.assert_allclose(encoder.encode(0.05 * row).features, encoder.encode(row).features,
                               atol=ATOL, rtol=ATOL)


def test_long_input_is_processed_in_chunks(chunked):
    sizes = chunked["sizes"]
    assert len(sizes) == math.ceil(13 / 4) and max(sizes) <= 4 and sum(sizes) == 13
    assert chunked["features"].shape == (13, 3072) and np.isfinite(chunked["features"]).all()
    assert chunked["fractions"] == pytest.approx([4 / 13, 8 / 13, 12 / 13, 1.0])


def test_batching_matches_one_at_a_time(chunked, model):
    """Rows 0-4 one at a time equal the same rows from the batched run (two batches of 4)."""
    encoder = MertEncoder(model=model, device="cpu", batch_size=1)
    single = encoder.encode(chunked["rows"][:5]).features
    np.testing.assert_allclose(single, chunked["features"][:5], atol=ATOL, rtol=ATOL)


def test_loads_weights_from_local_dir(model, audio, tmp_path):
    model.save_pretrained(tmp_path)
    row = audio[None, :ROW]
    loaded = MertEncoder(weights=tmp_path, device="cpu").encode(row).features
    direct = MertEncoder(model=model, device="cpu").encode(row).features
    np.testing.assert_array_equal(loaded, direct)


def test_missing_weights_fail_at_load_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = tmp_path / "MERT-v1-95M"
    with pytest.raises(MertWeightsError) as error:
        MertEncoder(weights=missing)
    message = str(error.value)
    assert str(missing) in message and "does not exist" in message
    assert f"hf download {HUB_ID} --local-dir" in message
    assert "EMOALIGN_MERT_WEIGHTS" in message and "MertEncoder(weights=" in message

    monkeypatch.setenv("EMOALIGN_MERT_WEIGHTS", str(missing))  # the default comes from the env
    with pytest.raises(MertWeightsError, match="does not exist"):
        MertEncoder()


def test_hub_id_offline_and_not_cached_fails_at_load(monkeypatch):
    from huggingface_hub import try_to_load_from_cache
    if isinstance(try_to_load_from_cache(HUB_ID, "config.json"), str):
        pytest.skip("MERT-v1-95M is in the local Hugging Face cache")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("EMOALIGN_MERT_WEIGHTS", raising=False)
    with pytest.raises(MertWeightsError, match="not in the Hugging Face cache"):
        MertEncoder()


@pytest.mark.parametrize("extra, message", [
    ({}, "not MERT-v1-95M or is incomplete"),
    ({"feature_extractor.conv_layers.0.conv.bias": torch.zeros(512)}, "do not fit"),
    ({"feature_projection.projection.bias": torch.zeros(700)}, "wrong shape")])
def test_wrong_checkpoint_is_refused(tmp_path, extra, message):
    """Weights that would be left random, or silently dropped, stop the load."""
    from safetensors.torch import save_file
    weights = {"feature_projection.projection.bias": torch.zeros(768), **extra}
    save_file(weights, tmp_path / "model.safetensors")
    with pytest.raises(MertWeightsError, match=message):
        MertEncoder(weights=tmp_path, device="cpu")


def test_half_precision_needs_cuda(model):
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ValueError, match="only supported on CUDA"):
        MertEncoder(model=model, device="cpu", dtype="float16")
