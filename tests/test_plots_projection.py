"""The app's pure helpers: 2-D projection (PCA fallback) and the plotly figures."""

from __future__ import annotations

import numpy as np
import pytest

from emoalign import plots
from emoalign.projection import MIN_UMAP_POINTS, pca_2d, project_2d


def unit_rows(n: int, d: int = 384, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("n", [0, 1, 2, 3, MIN_UMAP_POINTS - 1])
def test_few_points_fall_back_to_pca(n):
    xy, method = project_2d(unit_rows(n))
    assert method == "pca" and xy.shape == (n, 2) and np.isfinite(xy).all()


def test_pca_keeps_the_main_direction():
    t = np.linspace(-1, 1, 7)
    points = np.outer(t, np.eye(5)[2]) + 3.0  # a line along axis 2, off the origin
    xy = pca_2d(points)
    assert np.allclose(np.abs(xy[:, 0]), np.abs(t) * 1.0, atol=1e-9)
    assert np.allclose(xy[:, 1], 0, atol=1e-9)


def test_project_rejects_bad_input():
    with pytest.raises(ValueError):
        project_2d(np.zeros(5))
    with pytest.raises(ValueError):
        project_2d(unit_rows(3), method="tsne")


def test_score_bars_rank_best_on_top_and_cut_to_top_n():
    words = [f"w{i}" for i in range(20)]
    scores = np.linspace(-0.5, 0.5, 20)
    fig = plots.score_bars(words, scores, votes=np.arange(20), n_segments=6, top_n=5)
    bar = fig.data[0]
    assert list(bar.y) == ["w15", "w16", "w17", "w18", "w19"]  # plotly draws bottom-up
    assert list(bar.x) == sorted(bar.x)
    assert "of 6 segments" in bar.hovertext[-1]


def test_timeline_is_words_by_segments_on_the_time_axis():
    scores = np.random.default_rng(1).uniform(-1, 1, size=(4, 3))  # 4 segments, 3 words
    fig = plots.timeline_heatmap([0, 10, 20, 30], ["a", "b", "c"], scores, top_n=2,
                                 duration=37.5)
    heat = fig.data[0]
    assert np.asarray(heat.z).shape == (2, 4)
    assert list(heat.x) == [0, 10, 20, 30, 37.5]  # cell edges in seconds, like the player
    assert heat.customdata[0][-1] == "0:30-0:38"
    best = np.argsort(-scores.mean(axis=0))[:2]
    assert list(heat.y) == [["a", "b", "c"][i] for i in best]


def test_va_plane_marks_the_song_and_names_the_quadrants():
    fig = plots.va_plane(0.4, -0.3, np.array([[0.2, -0.1], [0.5, -0.4]]), "x.ogg", quadrant=4)
    song = fig.data[-1]
    assert (song.x[0], song.y[0]) == (0.4, -0.3)
    texts = {a.text for a in fig.layout.annotations}
    assert {"happy, energetic", "angry, tense", "sad, melancholic", "calm, peaceful"} <= texts
    assert fig.layout.paper_bgcolor == "rgba(0,0,0,0)"  # follows the page's theme


def test_cluster_figure_names_clusters_and_hides_masked_labels():
    from emoalign import map_plots
    labels = ["calm", "relaxing", "sad", "happy", "<b>angry</b>", "serene"]
    xy = np.arange(12, dtype=float).reshape(6, 2)
    sources = {"calm": ["MTG"], "relaxing": ["MTG"], "sad": ["MTG", "CAL500"]}
    names = ["calm / relaxing +1", "sad", "happy", "<b>angry</b>"]
    fig = map_plots.cluster_figure(labels, xy, [0, 0, 1, 2, 3, 0], sources,
                                   [True, True, True, False, True, True], highlight={0, 1, 5},
                                   names=names, named={5})
    assert sorted(label for t in fig.data for label in t.customdata) == sorted(
        ["calm", "relaxing", "sad", "<b>angry</b>", "serene"])  # 'happy' masked
    first = fig.data[0]
    # a cluster's labels are not written over each other: only the highlighted / your words
    assert list(first.text) == ["calm", "relaxing", "serene"]
    assert list(first.marker.size) == [18, 18, 18]
    assert fig.data[1].marker.color == map_plots.SINGLETON and list(fig.data[1].text) == ["sad"]
    assert "&lt;b&gt;angry" in fig.data[2].text[0]  # escaped, never markup
    assert any("cluster 'calm / relaxing +1' (3 labels)" in h for h in first.hovertext)
    # one multi-label cluster, named in words under its lowest point
    assert [a.text for a in fig.layout.annotations] == ["<b>calm / relaxing +1</b>"]
    assert fig.layout.annotations[0].y == 1.0
    plain = map_plots.cluster_figure(labels, xy, [0, 0, 1, 2, 3, 0], sources, [True] * 6,
                                     names=names)
    assert list(plain.data[0].text) == ["", "", ""]  # members on hover only


def test_cluster_names_clear_each_other():
    from emoalign import map_plots
    # two clusters side by side at the same height: the second name goes over its points
    xy = np.array([[0.0, 0.0], [0.1, 0.0], [0.3, 0.0], [0.4, 0.0], [5.0, 9.0]])
    fig = map_plots.cluster_figure(["a", "b", "c", "d", "far"], xy, [0, 0, 1, 1, 2], {},
                                   [True] * 5, names=["a long cluster name", "another long name",
                                                      "far"])
    shifts = [a.yshift for a in fig.layout.annotations]
    assert shifts == [-map_plots.NAME_GAP, map_plots.NAME_GAP]
    # nothing but hidden singletons: an empty graph, no error
    empty = map_plots.cluster_figure(["a", "b"], xy[:2], [0, 1], {}, [False, False])
    assert not empty.data and not empty.layout.annotations


def test_song_map_highlights_yours():
    from emoalign import map_plots
    fig = map_plots.song_map_figure(np.zeros((4, 2)), ["s1", "s2", "mine", "calm"],
                                    ["reference", "reference", "yours", "label"],
                                    ["calm", "sad", "calm", "calm"], ["a", "b", "c", "d"], "t")
    assert sum(len(t.x) for t in fig.data) == 4
    mine = next(t for t in fig.data if t.name.startswith("your songs"))
    assert mine.marker.symbol == "star" and list(mine.text) == ["mine"]


def test_loss_curve_puts_metrics_on_the_second_axis():
    history = [{"epoch": e, "loss": 1 / (e + 1), "val_f1": 0.1 * e, "lr": 1e-4}
               for e in range(3)]
    fig = plots.loss_curve(history)
    axes = {t.name: t.yaxis for t in fig.data}
    assert axes["loss"] == "y" and axes["val_f1"] == "y2"
