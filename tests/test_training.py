"""A tiny but real training: real 4Q clips through the real musicnn encoder, a few epochs.

Features come from the feature cache (features/musicnn/4q.npz, written by train/extract.py)
when it holds enough tracks, otherwise they are extracted here from the real audio (slower).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emoalign.adapter import Adapter, AdapterConfig, available_adapters, load_adapter, save_adapter
from emoalign.training import (FeatureSet, TrainConfig, extract_features, feature_path,
                               load_features, load_tracks, score, eval_set, train)

N_TRAIN, N_VAL = 24, 8


@pytest.fixture(scope="module")
def tiny(data_dir, tmp_path_factory):
    """(features {"4q": FeatureSet}, tracks {"4q": Tracks}) for a few dozen real clips."""
    tracks = load_tracks("4q", data_dir)
    cached = None
    if feature_path("musicnn", "4q").is_file():
        cached = load_features("musicnn", "4q", max_segments=2)
    ids = set(cached.track_ids.tolist()) if cached is not None else set()
    train_ids = [tracks.ids[i] for i in tracks.subset("train") if tracks.ids[i] in ids]
    val_ids = [tracks.ids[i] for i in tracks.subset("validation") if tracks.ids[i] in ids]
    if len(train_ids) < N_TRAIN or len(val_ids) < N_VAL:
        from emoalign.encoders import load_encoder
        train_ids = [tracks.ids[i] for i in tracks.subset("train")[:N_TRAIN]]
        val_ids = [tracks.ids[i] for i in tracks.subset("validation")[:N_VAL]]
        path = tmp_path_factory.mktemp("features") / "4q.npz"
        cached = extract_features(load_encoder("musicnn", "cpu"), "4q", path, tracks,
                                  train_ids + val_ids, max_segments=1, progress=False)
    keep = train_ids[:N_TRAIN] + val_ids[:N_VAL]
    return {"4q": cached}, {"4q": tracks.restrict(keep)}


def small_config(**changes) -> TrainConfig:
    base = dict(datasets=("4q",), d_model=64, n_heads=8, ff_dim=128, lr=1e-3, max_epochs=6,
                early_stop=100, batch_songs=8, seed=0)
    base.update(changes)
    return TrainConfig(**base)


def test_tiny_training_loss_falls_and_reloads_identically(tiny, tmp_path):
    features, tracks = tiny
    torch.set_num_threads(1)
    result = train(small_config(targets="clusters", lam=1.0), features, tracks, progress=False)
    losses = [row["loss"] for row in result.history]
    assert len(losses) == 6 and losses[-1] < losses[0]
    assert np.isfinite(losses).all()

    card = result.card()
    assert card["encoder"] == "musicnn" and card["label_sets"] == ["allmusic"]
    path = save_adapter(result.adapter, tmp_path / "tiny.safetensors", card)
    assert available_adapters(tmp_path) == ["tiny"]
    reloaded, reloaded_card = load_adapter(path)
    assert reloaded_card["config"]["d_model"] == 64 and reloaded_card["lambda"] == 1.0

    evaluation = eval_set(features["4q"].limit_segments(2), tracks["4q"], "allmusic", "all")
    before, after = score(result.adapter, evaluation), score(reloaded, evaluation)
    assert before == after
    x = torch.from_numpy(np.stack([f[:1] for f in evaluation.features[:4]]))
    mask = torch.ones(4, 1, dtype=torch.bool)
    with torch.no_grad():
        assert torch.equal(result.adapter(x, mask), reloaded(x, mask))


def test_damaged_weights_are_refused(tiny, tmp_path):
    adapter = Adapter(AdapterConfig(input_dim=8, d_model=16, ff_dim=32))
    path = save_adapter(adapter, tmp_path / "a.safetensors", {"encoder": "musicnn"})
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        load_adapter(path)
    with pytest.raises(FileNotFoundError, match="available"):
        load_adapter("no-such-adapter", directory=tmp_path)


@pytest.mark.parametrize("variant", ["segment", "song"])
def test_adapter_contract(variant):
    torch.manual_seed(0)
    adapter = Adapter(AdapterConfig(input_dim=12, d_model=32, ff_dim=64, variant=variant)).eval()
    x = torch.randn(2, 3, 12)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    with torch.no_grad():
        out = adapter(x, mask)
        assert out.shape == (2, 3, 384)
        assert torch.allclose(out.norm(dim=-1), torch.ones(2, 3), atol=1e-5)
        # padding never changes the real segments' embeddings
        alone = adapter(x[1:, :2], mask[1:, :2])
        assert torch.allclose(out[1, :2], alone[0], atol=1e-5)
        # the song variant lets segments see each other; the segment variant does not
        changed = x.clone()
        changed[0, 2] += 1.0
        moved = (adapter(changed, mask)[0, 0] - out[0, 0]).abs().max().item()
    assert (moved > 1e-4) == (variant == "song")


def test_feature_cache_resumes(data_dir, tmp_path):
    """Extraction skips cached tracks and the cache equals a direct encoding."""
    from emoalign.audio import load_audio, split_segments

    class Counting:
        name, sample_rate, feature_dim, tag_names = "fake", 16000, 3, ("loud",)
        calls = 0

        def encode(self, segments):
            from emoalign.encoders import EncodedSegments
            Counting.calls += 1
            rms = np.sqrt((segments ** 2).mean(axis=1, keepdims=True))
            return EncodedSegments(np.hstack([rms, segments.mean(1, keepdims=True),
                                              np.abs(segments).max(1, keepdims=True)]), rms)

    tracks = load_tracks("4q", data_dir)
    ids = tracks.ids[:3]
    path = tmp_path / "fake" / "4q.npz"
    extract_features(Counting(), "4q", path, tracks, ids[:2], chunk=1, progress=False)
    cache = extract_features(Counting(), "4q", path, tracks, ids, chunk=1, progress=False)
    assert Counting.calls == 3 and cache.track_ids.tolist() == ids
    segments = split_segments(load_audio(tracks.paths[2], 16000), 16000)
    np.testing.assert_allclose(cache.track(2), Counting().encode(segments).features, rtol=1e-6)
    starts = cache.starts[cache.offsets[2]:cache.offsets[3]].tolist()
    assert starts == [0.0, 10.0, 20.0][:len(segments)]
    reloaded = load_features("fake", "4q", path=path, max_segments=1)
    assert isinstance(reloaded, FeatureSet) and np.diff(reloaded.offsets).tolist() == [1, 1, 1]
