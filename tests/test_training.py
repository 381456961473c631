"""A tiny but real training: real 4Q clips through the real musicnn encoder, a few epochs
(needs 4Q). Features come from the feature cache (features/musicnn/4q.npz, written by
train/extract.py) when it holds enough tracks, otherwise they are extracted here from the real
audio (slower).

The folder tests need no dataset: clips cut from the bundled examples make a user's folder with
a CSV of GEMS labels (conftest.labelled_folder), and the whole job (`run_training`) runs on it,
caching features under tmp_path.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from conftest import DATA, dataset_dir, labelled_folder
from emoalign.answer.adapter import (Adapter, AdapterConfig, available_adapters, load_adapter,
                                     save_adapter)
from emoalign.text.labels import load_label_set
from emoalign.learn.datasets import SPLITS, ground_truth, load_tracks
from emoalign.learn.folders import folder_dataset
from emoalign.learn.evaluation import eval_set, score
from emoalign.learn.features import FeatureSet, extract_features, feature_path, load_features
from emoalign.learn.runs import run_training
from emoalign.learn.training import TrainConfig, train

N_TRAIN, N_VAL = 24, 8
N_FOLDER = 24
FOLDER_COLUMNS = dict(file_column="path", labels_column="emotions", separator="|")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(features {"4q": FeatureSet}, tracks {"4q": Tracks}) for a few dozen real clips."""
    data_dir = dataset_dir("4q", "trains on its clips and AllMusic labels")
    tracks = load_tracks("4q", data_dir)
    cached = None
    if feature_path("musicnn", "4q").is_file():
        cached = load_features("musicnn", "4q", max_segments=2)
    ids = set(cached.track_ids.tolist()) if cached is not None else set()
    train_ids = [tracks.ids[i] for i in tracks.subset("train") if tracks.ids[i] in ids]
    val_ids = [tracks.ids[i] for i in tracks.subset("validation") if tracks.ids[i] in ids]
    if len(train_ids) < N_TRAIN or len(val_ids) < N_VAL:
        from emoalign.audio.encoders import load_encoder
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


def test_damaged_weights_are_refused(tmp_path):
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


def test_feature_cache_resumes(folder, tmp_path):
    """Extraction skips cached tracks and the cache equals a direct encoding."""
    from emoalign.audio.load import load_audio, split_segments

    class Counting:
        name, sample_rate, feature_dim, tag_names = "fake", 16000, 3, ("loud",)
        calls = 0

        def encode(self, segments):
            from emoalign.audio.segments import EncodedSegments
            Counting.calls += 1
            rms = np.sqrt((segments ** 2).mean(axis=1, keepdims=True))
            return EncodedSegments(np.hstack([rms, segments.mean(1, keepdims=True),
                                              np.abs(segments).max(1, keepdims=True)]), rms)

    tracks = folder_dataset(*folder, **FOLDER_COLUMNS)
    ids = tracks.ids[:3]
    path = tmp_path / "fake" / "songs.npz"
    extract_features(Counting(), tracks.dataset, path, tracks, ids[:2], chunk=1, progress=False)
    cache = extract_features(Counting(), tracks.dataset, path, tracks, ids, chunk=1,
                             progress=False)
    assert Counting.calls == 3 and cache.track_ids.tolist() == ids
    segments = split_segments(load_audio(tracks.paths[2], 16000), 16000)
    np.testing.assert_allclose(cache.track(2), Counting().encode(segments).features, rtol=1e-6)
    starts = cache.starts[cache.offsets[2]:cache.offsets[3]].tolist()
    assert starts == [0.0, 10.0, 20.0][:len(segments)]
    reloaded = load_features("fake", tracks.dataset, path=path, max_segments=1)
    assert isinstance(reloaded, FeatureSet) and np.diff(reloaded.offsets).tolist() == [1, 1, 1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """(audio folder, labels CSV): 24 clips cut from the bundled examples, three GEMS labels
    each."""
    return labelled_folder(tmp_path_factory.mktemp("folder"), N_FOLDER)


def test_folder_dataset_reads_labels_and_splits_them(folder):
    tracks = folder_dataset(*folder, **FOLDER_COLUMNS)
    assert tracks.dataset.startswith("custom-") and len(tracks.ids) == N_FOLDER
    assert {s: int((tracks.splits == s).sum()) for s in SPLITS} == {
        "train": 20, "validation": 2, "test": 2}  # no split column: seeded 80/10/10
    assert folder_dataset(*folder, **FOLDER_COLUMNS).splits.tolist() == tracks.splits.tolist()
    gems = list(load_label_set("gems").labels)
    assert tracks.spec.k == 3 and set(tracks.spec.vocabulary) <= set(gems)
    with open(folder[1], newline="") as f:  # what the CSV says, row by row
        written = {row["path"].split("/")[-1]: {w.strip().lower() for w in row["emotions"].split("|")}
                   for row in csv.DictReader(f)}
    truth = ground_truth(tracks, tracks.spec.label_set, tracks.spec.labels())
    labels = tracks.spec.labels()
    assert [{labels[j] for j in np.flatnonzero(row)} for row in truth] == [
        written[p.name] for p in tracks.paths]
    assert truth.sum() == 3 * N_FOLDER


def test_run_training_on_a_folder(folder, tmp_path):
    from emoalign.audio.encoders import load_encoder

    tracks = folder_dataset(*folder, **FOLDER_COLUMNS)
    encoder = load_encoder("musicnn", "cpu")
    events, epochs = [], []
    run = run_training(small_config(datasets=(tracks.dataset,), max_epochs=3), encoder,
                       tmp_path / "adapters", [tracks],
                       progress=lambda fraction, message: events.append((fraction, message)),
                       on_epoch=epochs.append, features_dir=tmp_path / "features")
    card = json.loads(run.path.with_suffix(".json").read_text())
    assert run.path.is_file() and card["datasets"] == [tracks.dataset]
    assert card["custom_label_sets"] == {tracks.dataset: list(tracks.spec.vocabulary)}
    assert len(run.history) == len(epochs) == 3
    assert np.isfinite([row["loss"] for row in run.history]).all()
    (own,) = [r for r in run.metrics if r["dataset"] == tracks.dataset]
    assert (own["split"], own["zero_shot"], own["n_songs"]) == ("test", False, 2)
    assert 0 <= own["f1_song_vote"] <= 1
    assert card["metrics"][own["task"]]["f1_song_vote"] == own["f1_song_vote"]
    # the shipped datasets (when they are there) have no cache under this features_dir:
    # reported, not scored
    assert bool(run.skipped) == (DATA / "emotify" / "tracks.csv").is_file()
    assert not any(t.startswith(tracks.dataset) for t in run.skipped)
    assert events[0][1].startswith(f"Encoding {tracks.dataset}")
    assert events[-1] == (1.0, "Evaluating")
    # the app switches to it through the pipeline, which knows the folder's labels
    from emoalign.answer.pipeline import EmotionPipeline
    assert EmotionPipeline(encoder, adapter=run.path).trained_labels == list(tracks.spec.vocabulary)
    # the folder's cache is named after it and resumes: nothing is left to encode
    encoded = []
    cache = extract_features(encoder, tracks.dataset,
                             tmp_path / "features" / "musicnn" / f"{tracks.dataset}.npz", tracks,
                             progress=False, on_track=lambda *done: encoded.append(done))
    assert not encoded and len(cache.track_ids) == N_FOLDER


def _no_validation_split(rows):
    return [{**r, "split": "test" if i == 0 else "train"} for i, r in enumerate(rows)]


@pytest.mark.parametrize("change, message", [
    (lambda rows: [{"path": r["path"], "moods": r["emotions"]} for r in rows],
     "no column 'emotions'; its columns are: path, moods"),
    (lambda rows: rows + [{"path": "clips/missing.ogg", "emotions": "calmness"}],
     r"1 file\(s\) listed in bad.csv are not in .*'clips/missing.ogg'"),
    (lambda rows: rows[:3], "lists 3 track.*at least 6"),
    (_no_validation_split, "in the validation split"),
    (lambda rows: [{**r, "emotions": " | "} if i == 5 else r for i, r in enumerate(rows)],
     "1 track.* no labels in column 'emotions'"),
], ids=["missing column", "missing file", "too few", "empty split", "no labels"])
def test_folder_dataset_explains_a_bad_csv(folder, tmp_path, change, message):
    audio, labels_csv = folder
    with open(labels_csv, newline="") as f:
        rows = change(list(csv.DictReader(f)))
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(ValueError, match=message):
        folder_dataset(audio, bad, **FOLDER_COLUMNS)


def test_splits_too_small_to_mean_much_are_named(folder):
    """24 songs split 20/2/2: validation and test have under 5 songs of every label, so the
    Train tab warns (a macro-F1 on 2 songs is luck); with a lower bar nothing is said."""
    from emoalign.learn.split_sizes import split_warning, thin_splits
    tracks = folder_dataset(*folder, **FOLDER_COLUMNS)
    sentences = thin_splits(tracks)
    assert [s.split(":")[0] for s in sentences] == ["validation", "test"]
    n_labels = len(tracks.spec.labels())
    assert sentences[0].startswith(f"validation: 2 song(s); {n_labels} of its {n_labels} labels")
    warning = split_warning("your songs", sentences)
    assert warning.startswith("**Too few songs to mean much** in your songs: validation: 2")
    assert thin_splits(tracks, minimum=0) == [] and split_warning("x", []) == ""


def test_training_chart_keeps_its_axis_labels_for_one_epoch():
    pytest.importorskip("gradio")
    from emoalign.web.train import chart
    fig = chart([{"epoch": 1, "loss": 0.8, "val_f1": 0.4}])
    assert list(fig.layout.xaxis.range) == [0.5, 1.5] and fig.layout.xaxis.dtick == 1
    assert fig.layout.xaxis.automargin and fig.layout.yaxis.automargin
    assert fig.layout.yaxis2.automargin
    assert fig.layout.xaxis.title.text == "epoch" and fig.layout.yaxis.title.text == "loss"
