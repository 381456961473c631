"""The Clusters tab's label graph as a Plotly figure: a pure function from a networkx graph
(text/label_graph.py) and node positions to a figure. Labels are nodes, coloured by vocabulary;
emotion labels are circles, theme/use tags (film, christmas: a use, not a feeling) open
diamonds, your words stars. Edges: grey within a cluster, dotted between vocabularies above
the chosen cosine, dashed from each of your words to its nearest label (its cosine written on
it). Each multi-label cluster is named once, in words, where it clashes least."""

from __future__ import annotations


import numpy as np
import plotly.graph_objects as go

from ..safety import plot_text as escape  # every user string drawn goes through it
from .map_plots import text_places
from .plots import INK, _layout

NAME_FONT = 12  # px, a cluster's name
NAME_GAP = 15  # px between a cluster's name and its nearest point
PHONE_PLOT_PX = np.array([306.0, 580.0])  # the cluster plot's area on a 390-px phone


VOCABULARY_COLOURS = {"MTG-Jamendo": "#4e79a7", "CAL500": "#f28e2b", "Emotify GEMS-9": "#e15759",
                      "AllMusic": "#59a14f", "Russell quadrants": "#b07aa1",
                      "your words": "#d37295"}
EDGE_STYLES = {"cluster": dict(color="rgba(138,143,152,0.55)", width=1.2, dash="solid"),
               "cross": dict(color="rgba(237,201,72,0.9)", width=1.5, dash="dot"),
               "nearest": dict(color=INK, width=2.0, dash="dash")}
EDGE_TITLES = {"cluster": "same cluster", "cross": "across vocabularies",
               "nearest": "your word -> nearest label"}


def vocabulary_colour(title: str) -> str:
    """One colour per vocabulary (by the start of its title); grey for any other."""
    for key, colour in VOCABULARY_COLOURS.items():
        if title.lower().startswith(key.lower().split()[0]):
            return colour
    return "#8a8f98"


def label_graph_figure(graph, pos: dict, shown: set[str], highlight: set[str] | None = None,
                       title: str = "Label graph") -> go.Figure:
    """`graph` (label_graph.LabelGraph.graph), `pos` label -> (x, y); only the labels in
    `shown` are drawn (with the edges between them). `highlight` (a found label and its
    neighbours) are drawn large and written, everything else faded. Every node carries its
    label as customdata."""
    nodes = [n for n in graph if n in shown]
    fig = go.Figure()
    for kind, style in EDGE_STYLES.items():
        edges = [(a, b, d) for a, b, d in graph.edges(data=True)
                 if d["kind"] == kind and a in shown and b in shown]
        if not edges:
            continue
        xs, ys = [], []
        for a, b, _ in edges:
            xs += [pos[a][0], pos[b][0], None]
            ys += [pos[a][1], pos[b][1], None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=style, hoverinfo="skip",
                                 name=EDGE_TITLES[kind], legendgroup="edges"))
        if kind == "nearest":  # the cosine of each typed word with the label it joins
            fig.add_trace(go.Scatter(
                x=[(pos[a][0] + pos[b][0]) / 2 for a, b, _ in edges],
                y=[(pos[a][1] + pos[b][1]) / 2 for a, b, _ in edges],
                mode="text", text=[f"{d['cosine']:.2f}" for *_, d in edges],
                textfont=dict(size=11, color=INK), hoverinfo="skip", showlegend=False))
    big = set(highlight or ())
    # written at their point: your words, the found label and its neighbours, and every label
    # linked across vocabularies (the alignment the graph is about); where a name would overlap
    # one already written it is left to the hover
    linked = {n for a, b, d in graph.edges(data=True) if d["kind"] != "cluster" for n in (a, b)}
    order = sorted(nodes, key=lambda n: (not graph.nodes[n]["yours"], n not in big))
    kinds = ["yours" if graph.nodes[n]["yours"] or n in big else
             "label" if n in linked else "reference" for n in order]
    where = text_places(np.array([pos[n] for n in order], dtype=float).reshape(-1, 2), order,
                        kinds) if order else {}
    places = {n: where.get(i) for i, n in enumerate(order)}
    groups: dict[tuple[str, str], list[str]] = {}
    for node in nodes:
        data = graph.nodes[node]
        shape = "yours" if data["yours"] else ("emotion" if data["emotion"] else "theme")
        groups.setdefault((data["vocabularies"][0], shape), []).append(node)
    symbols = {"emotion": "circle", "theme": "diamond-open", "yours": "star"}
    for (vocabulary, shape), members in groups.items():
        colour = vocabulary_colour(vocabulary)
        lit = [highlight is None or n in big for n in members]
        written = [places.get(n) is not None for n in members]
        fig.add_trace(go.Scatter(
            x=[pos[n][0] for n in members], y=[pos[n][1] for n in members],
            mode="markers+text", customdata=members,
            name=vocabulary + ("" if shape == "emotion" else f" ({shape} tags)"
                               if shape == "theme" else ""),
            text=[escape(n) if w else "" for n, w in zip(members, written)],
            textposition=[places.get(n) or "top center" for n in members],
            textfont=dict(size=12, color=INK),
            marker=dict(symbol=symbols[shape], color=colour,
                        size=[16 if n in big else (16 if shape == "yours" else 9)
                              for n in members],
                        opacity=[1.0 if on else 0.25 for on in lit],
                        line=dict(width=2 if shape == "theme" else 0, color=colour)),
            hovertext=[_hover(graph, n) for n in members], hoverinfo="text"))
    clusters: dict[int, list[str]] = {}
    for node in nodes:
        clusters.setdefault(graph.nodes[node]["cluster"], []).append(node)
    multi = [(graph.nodes[m[0]]["name"], m) for _, m in sorted(clusters.items()) if len(m) > 1]
    if nodes and multi:
        xy = np.array([pos[n] for n in nodes], dtype=float)
        where = {n: i for i, n in enumerate(nodes)}
        places = _name_places(xy, np.arange(len(nodes)),
                              [(name, [where[m] for m in members]) for name, members in multi])
        for (name, members), (x, y, shift) in zip(multi, places):
            lit = highlight is None or any(m in big for m in members)
            fig.add_annotation(x=x, y=y, yshift=shift, showarrow=False,
                               text=f"<b>{escape(name)}</b>", font=dict(size=NAME_FONT, color=INK),
                               opacity=1.0 if lit else 0.4)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)  # no fixed aspect: the points fill a phone's tall plot too
    return _layout(fig, title, height=640, uirevision="clusters", dragmode="pan",
                   legend=dict(orientation="h", y=-0.02))


def _hover(graph, node: str) -> str:
    data = graph.nodes[node]
    near = sorted(graph[node].items(), key=lambda item: -item[1]["cosine"])[:4]
    links = "<br>".join(f"{escape(other)} ({d['cosine']:.2f}, {EDGE_TITLES[d['kind']]})"
                        for other, d in near)
    return (f"<b>{escape(node)}</b><br>{escape(', '.join(data['vocabularies']))}"
            f"{'' if data['emotion'] else ' (a theme/use tag)'}<br>"
            f"cluster '{escape(data['name'])}', {graph.degree[node]} link(s)"
            + (f"<br>{links}" if links else ""))


def _name_places(xy: np.ndarray, shown: np.ndarray, clusters: list[tuple[str, list[int]]]
                 ) -> list[tuple[float, float, int]]:
    """(x, y, yshift in px) of each cluster's name, in order: under its lowest point, or over
    its highest when that clashes less with the names placed before (first) and the `shown`
    points (then). Sized as on a phone, where space is least."""
    if not clusters:
        return []
    lo, span = xy[shown].min(axis=0), np.ptp(xy[shown], axis=0)  # the drawn points' extent
    span[span == 0] = 1.0
    dots = (xy - lo) / span * PHONE_PLOT_PX
    points = [(x - 6, x + 6, y - 6, y + 6) for x, y in dots[shown]]
    names, places = [], []
    for name, members in clusters:
        px = dots[members]  # y up, like the data
        centre, half = px[:, 0].mean(), len(name) * 0.3 * NAME_FONT  # bold text
        options = [(px[:, 1].min() - NAME_GAP, xy[members, 1].min(), -NAME_GAP),
                   (px[:, 1].max() + NAME_GAP, xy[members, 1].max(), NAME_GAP)]
        boxes = [(centre - half, centre + half, at - NAME_FONT * 0.7, at + NAME_FONT * 0.7)
                 for at, *_ in options]
        clashes = [(sum(_overlap(box, other) for other in names),
                    sum(_overlap(box, other) for other in points)) for box in boxes]
        pick = clashes.index(min(clashes))  # the first (under) on a tie
        names.append(boxes[pick])
        places.append((float(xy[members, 0].mean()), float(options[pick][1]), options[pick][2]))
    return places


def _overlap(a: tuple, b: tuple) -> bool:
    """Two (left, right, bottom, top) boxes overlap."""
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]
