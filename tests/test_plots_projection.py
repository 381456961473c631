"""The app's pure helpers: 2-D projection (PCA fallback) and the plotly figures."""

from __future__ import annotations

import numpy as np
import pytest

from emoalign.web import plots
from emoalign.library.projection import MIN_UMAP_POINTS, pca_2d, project_2d


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


def small_graph():
    import networkx as nx
    graph = nx.Graph()
    for label, vocabulary, cluster, name in [
            ("calm", "MTG-Jamendo mood/theme (56)", 0, "calm / relaxing"),
            ("relaxing", "MTG-Jamendo mood/theme (56)", 0, "calm / relaxing"),
            ("calmness", "Emotify GEMS-9", 0, "calm / relaxing"),
            ("film", "MTG-Jamendo mood/theme (56)", 1, "film"),
            ("<b>angry</b>", "your words", 2, "<b>angry</b>"),
            ("alone", "CAL500 emotions (18)", 3, "alone")]:
        graph.add_node(label, vocabularies=[vocabulary], emotion=label != "film",
                       yours=vocabulary == "your words", cluster=cluster, name=name)
    graph.add_edge("calm", "relaxing", cosine=0.8, kind="cluster")
    graph.add_edge("calm", "calmness", cosine=0.7, kind="cross")
    graph.add_edge("<b>angry</b>", "film", cosine=0.31, kind="nearest")
    pos = {label: np.array([float(i), float(i % 3)]) for i, label in enumerate(graph)}
    return graph, pos


def test_label_graph_figure_draws_nodes_edges_and_kinds():
    from emoalign.web import graph_plots
    graph, pos = small_graph()
    fig = graph_plots.label_graph_figure(graph, pos, set(graph) - {"alone"},
                                         highlight={"calm", "relaxing", "calmness"})
    nodes = {n: t for t in fig.data if t.customdata is not None for n in t.customdata}
    assert set(nodes) == {"calm", "relaxing", "calmness", "film", "<b>angry</b>"}
    edges = {t.name: t for t in fig.data if t.mode == "lines"}
    assert set(edges) == {"same cluster", "across vocabularies", "your word -> nearest label"}
    assert edges["across vocabularies"].line.dash == "dot"
    # the typed word's cosine is written on its edge; markup in names is escaped
    assert any(t.mode == "text" and list(t.text) == ["0.31"] for t in fig.data)
    assert "&lt;b&gt;angry" in nodes["<b>angry</b>"].text[0]
    assert nodes["<b>angry</b>"].marker.symbol == "star"
    assert nodes["film"].marker.symbol == "diamond-open"  # a theme tag, drawn apart
    assert nodes["calm"].marker.symbol == "circle"
    assert list(nodes["calmness"].text) == ["calmness"]  # linked across vocabularies: written
    assert nodes["calm"].marker.color != nodes["calmness"].marker.color  # by vocabulary
    # a multi-label cluster is named once, in words
    assert [a.text for a in fig.layout.annotations] == ["<b>calm / relaxing</b>"]
    hover = " ".join(nodes["calm"].hovertext)
    assert "relaxing (0.80, same cluster)" in hover and "calmness (0.70, across" in hover


def test_label_graph_neighbours_and_positions():
    from emoalign.text.clusters import LabelClusters
    from emoalign.text.label_graph import LabelGraph, graph_positions
    graph, pos = small_graph()
    lg = LabelGraph(graph, LabelClusters([], np.zeros((0, 384)), np.zeros(0), np.zeros((0, 384)),
                                         0.7), [], [])
    assert lg.neighbours("calm") == [("relaxing", 0.8, "MTG-Jamendo mood/theme (56)", "cluster"),
                                     ("calmness", 0.7, "Emotify GEMS-9", "cross")]
    assert lg.hubs(1) == [("calm", 2)] and lg.components() == 3
    fixed = {n: p for n, p in pos.items() if n != "<b>angry</b>"}
    placed = graph_positions(graph, fixed)
    assert all(np.allclose(placed[n], fixed[n]) for n in fixed)  # stored places kept
    assert np.isfinite(placed["<b>angry</b>"]).all()


def test_song_map_highlights_yours():
    from emoalign.web import map_plots
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


def test_song_map_names_never_overlap():
    """Crowded names are moved to a free side of their point, or left to the hover: no two
    written names overlap (checked as on a phone)."""
    from emoalign.web import map_plots
    rng = np.random.default_rng(0)
    xy = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(0, 0.05, (12, 2))])
    kinds = ["reference"] * 200 + ["yours"] * 4 + ["example"] * 6 + ["label"] * 2
    names = [f"song {i}" for i in range(200)] + [f"a rather long name {i}" for i in range(12)]
    places = map_plots.text_places(xy, names, kinds)
    assert set(places) == set(range(200, 212))
    assert places[200] == "top center"  # the first of your songs keeps the usual place
    assert None in places.values()  # twelve names in one spot cannot all be written
    fig = map_plots.song_map_figure(xy, names, kinds, ["calm"] * 212, names, "map")
    written = [(x, y, text, where) for t in fig.data if t.text is not None
               for x, y, text, where in zip(t.x, t.y, t.text, t.textposition) if text]
    assert 2 <= len(written) < 12
    lo, span = xy.min(axis=0), np.ptp(xy, axis=0)
    boxes = []
    for x, y, text, where in written:
        px, py = (np.array([x, y]) - lo) / span * map_plots.MAP_PHONE_PX
        w, h = len(text) * 0.55 * map_plots.TEXT_PX, map_plots.TEXT_PX * 1.3
        box = {"top center": (px - w / 2, px + w / 2, py + 6, py + 6 + h),
               "bottom center": (px - w / 2, px + w / 2, py - 6 - h, py - 6),
               "middle right": (px + 8, px + 8 + w, py - h / 2, py + h / 2),
               "middle left": (px - 8 - w, px - 8, py - h / 2, py + h / 2)}[where]
        assert not any(map_plots._overlap(box, other) for other in boxes), text
        boxes.append(box)
