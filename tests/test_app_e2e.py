"""End to end: `python app.py` on localhost, driven through its API with gradio_client.

Real music (the bundled examples and songs cut from them; the Train tab's datasets test needs
Emotify and is skipped without it), the real default encoder and adapter,
a real server process. Every main action is called by its api_name.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app_server import launched_app
from conftest import dataset_dir, labelled_folder
from emoalign.text.labels import plain_name

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

pytestmark = pytest.mark.slow
CAP_SECONDS = 120  # the server runs with a short length cap so "too long" is cheap to test
API_NAMES = {"/analyze", "/rescore", "/score_words", "/clusters", "/embedding_map", "/search",
             "/similar", "/set_model", "/train"}
SONG = "calm-then-lively.ogg"  # conftest.long_song: 60 s, six segments
TRAIN_TRACKS = {"train": 16, "validation": 4, "test": 4}  # the Train tab's small Emotify


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path | None:
    """A small Emotify for the Train tab: real clips and labels, a few tracks of each split."""
    from emoalign.paths import data_root
    source = data_root() / "emotify"
    if not (source / "tracks.csv").is_file():
        return None
    folder = tmp_path_factory.mktemp("data") / "emotify"
    (folder / "audio").mkdir(parents=True)
    with open(source / "tracks.csv", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    kept = []
    for split, n in TRAIN_TRACKS.items():
        in_split = [r for r in rows if r["split"] == split]
        kept += in_split[::len(in_split) // n][:n]  # spread over the four genres
    with open(folder / "tracks.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(kept)
    for row in kept:
        (folder / row["file"]).symlink_to(source / row["file"])
    return folder.parent


@pytest.fixture(scope="module")
def server(tmp_path_factory, small_data):
    env = {"EMOALIGN_MAX_SECONDS": str(CAP_SECONDS),
           "EMOALIGN_TRAINED": str(tmp_path_factory.mktemp("trained")),
           "EMOALIGN_FEATURES": str(tmp_path_factory.mktemp("features"))}
    if small_data is not None:
        env["EMOALIGN_DATA"] = str(small_data)
    with launched_app(env) as url:
        yield url


@pytest.fixture
def client(server):
    """A new client is a new session: its own library of songs."""
    return Client(server, verbose=False)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    sr = 8000
    t = np.arange(sr * (CAP_SECONDS + 10)) / sr
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    files = {"text": folder / "notes.txt", "corrupt": folder / "broken.ogg",
             "short": folder / "one-second.wav", "silent": folder / "silence.wav",
             "long": folder / "too-long.wav"}
    files["text"].write_text("this is not audio\n")
    files["corrupt"].write_bytes(b"OggS" + np.random.default_rng(0).bytes(5000))
    sf.write(files["short"], tone[:sr], sr)
    sf.write(files["silent"], np.zeros(5 * sr, np.float32), sr)
    sf.write(files["long"], tone, sr)
    return files


def analyze(client: Client, path: Path, vocabulary: str = "gems", top_k: int = 3):
    return client.predict(handle_file(str(path)), vocabulary, top_k, False, api_name="/analyze")


def table(value: dict) -> list[dict]:
    """A Dataframe output as a list of row dicts."""
    return [dict(zip(value["headers"], row)) for row in value["data"]]


def figure(value: dict) -> dict:
    assert value["type"] == "plotly"
    return json.loads(value["plot"])


def array(value) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = [int(n) for n in str(value.get("shape", len(flat))).split(",")]
        return flat.reshape(shape)
    return np.asarray(value)


def test_every_main_action_has_an_api_name(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert API_NAMES <= set(endpoints)


def test_analyze_a_real_clip(client, long_song):
    hero, plane, timeline, scores, files, details = analyze(client, long_song)
    assert SONG in hero and "6 segment(s)" in hero
    rows = table(scores)
    assert len(rows) == 9  # GEMS-9, every emotion in the Details table
    values = [r["score"] for r in rows]
    assert values == sorted(values, reverse=True) and all(0 <= v <= 1 for v in values)
    assert all(-1 <= r["raw cosine"] <= 1 for r in rows)
    top3 = [r["emotion"] for r in rows[:3]]
    # the answer card: the three best words in order, a bar per emotion, what a score means
    feels = re.search(r"Feels like: (.*?)</h2>", hero).group(1)
    assert re.findall(r">([^<]+)</b>", feels) == top3
    assert hero.count('class="emo-fill"') == 9 and "% of the reference songs" in hero
    assert "valence " in hero and "quadrant " in hero and "mtt" not in hero.lower()
    # the valence/arousal plane: one point for the song, in [-1, 1]
    song_point = figure(plane)["data"][-1]
    v, a = float(array(song_point["x"])[0]), float(array(song_point["y"])[0])
    assert -1 <= v <= 1 and -1 <= a <= 1 and f"valence {v:+.2f}" in hero
    assert "Model:" in details and "Segment votes" in details
    # the downloads hold the same numbers: the output contract, and the CSV
    csv_file = next(f for f in files if f.endswith(".csv"))
    json_file = next(f for f in files if f.endswith(".json"))
    exported = json.loads(Path(json_file).read_text())
    # the download names the labels; the page shows GEMS labels with their plain meaning
    assert [plain_name(r["word"]) for r in exported["ranking"][:3]] == top3
    assert exported["calibrated"] is True and -1 <= exported["valence"] <= 1
    assert exported["valence"] == pytest.approx(v, abs=1e-3)
    assert len(exported["segments"]) == 6
    assert Path(csv_file).read_text().splitlines()[0].startswith("level,start_s,word,rank,score,raw")
    # the timeline is 9 words x 6 segments on the song's time axis (seconds)
    heat = figure(timeline)["data"][0]
    assert array(heat["z"]).shape == (9, 6)
    assert array(heat["x"])[0] == 0 and array(heat["x"])[-1] == pytest.approx(60, abs=0.5)


def test_rescore_needs_no_audio(client, long_song):
    analyze(client, long_song)
    hero, _, _, scores, _, _ = client.predict("quadrants", 1, api_name="/rescore")
    rows = table(scores)
    assert len(rows) == 4 and all(r["emotion"].startswith("Q") for r in rows)
    assert sum(int(r["segment votes"].split("/")[0]) for r in rows) == 6  # one vote a segment
    assert "Feels like" in hero and ">Q1" not in hero  # plain words in the card


def test_analyze_a_bundled_example(client):
    from app import EXAMPLES
    if not EXAMPLES:
        pytest.skip("no bundled examples in assets/examples")
    example = EXAMPLES[0]
    hero, _, _, scores, files, _ = analyze(client, example.path)
    assert f">{example.title} · " in hero  # recognised by content, not by name
    assert len(table(scores)) == 9 and len(files) == 2


def test_score_custom_words_and_explain_them(client, long_song):
    analyze(client, long_song)
    bars, timeline, explained, notes = client.predict(
        "serene, furious\nxyzzy blorf, serene", None, 3, api_name="/score_words")
    rows = {r["word"]: r for r in table(explained)}
    assert set(rows) == {"serene", "furious", "xyzzy blorf"}  # duplicates dropped
    assert rows["serene"]["trust"] == "ok" and rows["xyzzy blorf"]["trust"] == "low"
    assert "calm" in rows["serene"]["nearest built-in labels"]
    assert "xyzzy blorf" in notes and "far from every label" in notes
    assert array(figure(timeline)["data"][0]["z"]).shape == (3, 6)


@pytest.mark.parametrize("name, message", [
    ("text", "ffmpeg|not a readable audio file"), ("corrupt", "damaged|not a readable"),
    ("short", "at least 3 s"),
    ("silent", "silent"), ("long", "limit")])
def test_bad_audio_gets_a_readable_error_and_the_server_keeps_serving(
        client, bad_files, long_song, name, message):
    with pytest.raises(AppError, match=message):
        analyze(client, bad_files[name])
    summary, *_ = analyze(client, long_song)
    assert SONG in summary


@pytest.mark.parametrize("words, message", [
    ("", "at least one emotion word"), (" ,;\n ", "at least one emotion word"),
    ("\U0001F622, \u2603, \u200b", "at least one emotion word"),
    (", ".join(f"word{i}" for i in range(500)), "too many")])
def test_bad_word_lists_get_a_readable_error(client, long_song, words, message):
    analyze(client, long_song)
    with pytest.raises(AppError, match=message):
        client.predict(words, None, 3, api_name="/score_words")
    *_, notes = client.predict("Gl\u00fcck, \uff53\uff41\uff44", None, 3,
                               api_name="/score_words")  # odd but valid: NFKC -> "sad"
    assert "**2** word(s)" in notes


def test_odd_unicode_file_name(client, long_song, tmp_path):
    odd = tmp_path / ("Sigur Ros \u2013 Hopp\u00edpolla \U0001F3B5 "
                      "\u0645\u0648\u0633\u064a\u0642\u0649.ogg")
    shutil.copy(long_song, odd)
    summary, _, _, _, files, _ = analyze(client, odd)
    assert "Hopp\u00edpolla" in summary
    assert all(Path(f).is_file() for f in files)


def test_words_before_any_song(client):
    with pytest.raises(AppError, match="Analyse a song first"):
        client.predict("calm", None, 3, api_name="/score_words")


def test_label_graph(client):
    """The Clusters tab's graph: labels as nodes, theme tags left out unless asked for, a typed
    word joined to its nearest label with its cosine, a found label's neighbours listed, and
    typed text never rendered as markup."""
    graph, clusters, counts, bandwidth, _ = client.predict(
        ["mtg", "cal500"], "furious", 0.7736, False, True, "", 0.6, False, api_name="/clusters")
    rows = table(clusters)
    n_labels = sum(r["size"] for r in rows)
    assert f"**{n_labels}** distinct labels" in counts and f"**{len(rows)}** clusters" in counts
    assert bandwidth == pytest.approx(0.7736)
    labels = {label for r in rows for label in r["labels"].split("; ")}
    assert "furious" in labels and not {"film", "movie", "christmas", "holiday"} & labels
    assert re.search(r"\*furious\* joins \*[^*]+\* \(cosine 0\.\d\d", counts)
    # each cluster is named in words: its most central label first (the table lists it first)
    assert all(r["cluster"].startswith(r["labels"].split("; ")[0].split(",")[0]) for r in rows)

    def nodes(graph) -> dict[str, tuple[float, float]]:
        return {name: (float(x), float(y)) for t in figure(graph)["data"] if t.get("customdata")
                for name, x, y in zip(t["customdata"], array(t["x"]), array(t["y"]))}

    everything = nodes(graph)
    assert len(everything) == n_labels  # labels with no link shown on request
    traces = {t.get("name") for t in figure(graph)["data"]}
    assert {"same cluster", "your word -> nearest label", "your words"} <= traces
    # by default labels with no link are hidden (your words stay); built-in labels keep places
    graph, *_ = client.predict(["mtg", "cal500"], "furious, serene", 0.7736, False, False, "",
                               0.6, False, api_name="/clusters")
    shown = nodes(graph)
    assert "furious" in shown and len(shown) < n_labels + 1
    assert all(shown[label] == pytest.approx(everything[label]) for label in shown
               if label in everything and label not in ("furious", "serene"))
    # theme tags on request, drawn as their own kind
    _, clusters, *_ = client.predict(["mtg"], "", 0.7736, False, True, "", 0.6, True,
                                     api_name="/clusters")
    assert "film" in {label for r in table(clusters) for label in r["labels"].split("; ")}
    # finding a label lists its neighbours with cosines and vocabularies
    graph, _, counts, _, neighbours = client.predict(
        ["mtg", "cal500", "gems"], "", 0.7736, False, False, "sad", 0.5, False,
        api_name="/clusters")
    near = table(neighbours)
    assert near and all(-1 <= r["cosine"] <= 1 and r["vocabularies"] for r in near)
    assert [r["cosine"] for r in near] == sorted((r["cosine"] for r in near), reverse=True)
    sizes = [m for t in figure(graph)["data"] if t.get("customdata") for m in t["marker"]["size"]]
    assert max(sizes) > min(sizes)  # 'sad' and its neighbours drawn larger
    *_, counts, _, _ = client.predict(["gems"], "", 0.7736, False, False, "*x* <b>y</b>", 0.6,
                                      False, api_name="/clusters")
    assert "<b>" not in counts and "\\*x\\*" in counts and "Not among the labels" in counts
    # the paper's estimate instead of the slider
    *_, estimated, _ = client.predict(["gems"], "", 0.5, True, False, "", 0.6, False,
                                      api_name="/clusters")
    assert estimated != pytest.approx(0.5)


def test_map_search_and_similar_start_from_the_reference(client, long_song, calm_copy):
    from app import EXAMPLES
    from emoalign.answer.calibration import reference_path
    from emoalign.answer.reference import load_reference_once
    path = reference_path("musicnn")
    n_reference = len(load_reference_once(str(path), path.stat().st_mtime_ns).corpus)
    plot, info = client.predict("gems", "valence", False, api_name="/embedding_map")
    points = sum(len(array(t["x"])) for t in figure(plot)["data"])
    assert points == n_reference + len(EXAMPLES) and "0 yours" in info  # before any upload
    analyze(client, calm_copy)
    analyze(client, long_song)
    plot, info = client.predict("gems", "predicted emotion", True, api_name="/embedding_map")
    points = sum(len(array(t["x"])) for t in figure(plot)["data"])
    assert points == n_reference + len(EXAMPLES) + 2 + 9  # + our two songs, the GEMS words
    assert "2 yours" in info
    stars = [t for t in figure(plot)["data"] if t["marker"].get("symbol") == "star"]
    assert sorted(n for t in stars for n in t["text"]) == sorted([calm_copy.name, SONG])
    ranked = table(client.predict("calm, peaceful", api_name="/search"))
    names = [r["song"] for r in ranked]
    assert {calm_copy.name, SONG} <= set(names) and len(names) <= 22  # yours always listed
    assert [r["rank"] for r in ranked] == sorted(r["rank"] for r in ranked)
    assert any(r["source"].startswith("reference") for r in ranked)
    similar = table(client.predict(calm_copy.name, api_name="/similar"))
    others = [r["song"] for r in similar]
    assert calm_copy.name not in others and SONG in others
    assert similar[0]["song"] == "Offshore"  # the same music: the bundled example it copies


def test_set_model_keeps_songs_and_reports_missing_weights(client, long_song):
    analyze(client, long_song)
    adapter = os.environ.get("EMOALIGN_ADAPTER", "musicnn-default")
    status = client.predict("musicnn", adapter, api_name="/set_model")
    assert Path(adapter).stem in status and "ready" in status
    *_, notes = client.predict("calm", SONG, 3, api_name="/score_words")
    assert SONG in notes  # the library survived the switch
    try:  # MERT is offered; without its weights the user is told how to get them
        status = client.predict("mert-v1-95m", "", api_name="/set_model")
    except AppError as error:
        assert "MERT-v1-95M weights" in str(error) or "No adapter" in str(error)
    else:
        assert "mert-v1-95m" in status and "removed" in status  # musicnn songs cannot carry over


def test_train_evaluate_and_switch_to_the_new_adapter(client, long_song, small_data):
    if small_data is None:
        dataset_dir("emotify", "trains on the dataset as the Train tab lists it")
    status, curve, metrics = client.predict(
        ["emotify"], "labels", 1.0, 0.7736, 2, "segment", api_name="/train")
    saved = Path(re.search(r"Saved \*\*(.+?\.safetensors)\*\*", status).group(1))
    card = json.loads(saved.with_suffix(".json").read_text())
    assert card["datasets"] == ["emotify"] and card["lambda"] == 1.0
    assert card["data"]["n_train_songs"] == TRAIN_TRACKS["train"]
    losses = next(t for t in figure(curve)["data"] if t["name"] == "loss")
    assert len(array(losses["x"])) == 2  # one point per epoch
    (row,) = table(metrics)  # only Emotify is there: its own labels, test split
    assert (row["dataset"], row["labels"], row["zero-shot"]) == ("emotify", "gems", "no")
    assert 0 <= row["f1_song_vote"] <= 1 and 0 <= row["roc_auc_song"] <= 1
    assert row["f1_song_vote"] == round(card["metrics"]["emotify/test/gems"]["f1_song_vote"], 4)
    status = client.predict("musicnn", str(saved), api_name="/set_model")
    assert saved.stem in status
    summary, *_ = analyze(client, long_song)
    assert SONG in summary


def test_train_on_your_folder(client, tmp_path):
    audio, labels_csv = labelled_folder(tmp_path, 12)
    folder = [str(audio), handle_file(str(labels_csv)), "path", "emotions", "|", "split"]
    with pytest.raises(AppError, match="no column 'moods'"):
        client.predict([], "labels", 0.0, 0.7736, 2, "segment", *folder[:3], "moods", "|", "",
                       api_name="/train")
    status, curve, metrics = client.predict([], "labels", 0.0, 0.7736, 2, "segment", *folder,
                                            api_name="/train")
    # 12 songs split 10/1/1: the result says that one song per split means little
    assert status.startswith("**Too few songs to mean much** in your songs")
    assert "validation: 1 song(s)" in status and "test: 1 song(s)" in status
    saved = Path(re.search(r"Saved \*\*(.+?\.safetensors)\*\*", status).group(1))
    card = json.loads(saved.with_suffix(".json").read_text())
    (dataset,) = card["datasets"]
    # Stop with no job running leaves the finished job's result where it is
    assert client.predict(api_name="/stop_training") != "No training job of yours is running."
    assert dataset.startswith("custom-") and saved.is_file()
    losses = next(t for t in figure(curve)["data"] if t["name"] == "loss")
    assert len(array(losses["x"])) == 2
    own = [r for r in table(metrics) if r["dataset"] == dataset]
    assert [(r["labels"], r["zero-shot"]) for r in own] == [(dataset, "no")]
