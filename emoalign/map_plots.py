"""Plotly figures of the song map: pure functions from coordinates and categories to a figure.
Reference songs are small dots, songs of the local library squares, bundled examples
diamonds, the visitor's songs large outlined stars with their names; colours follow `colours.emotion_colour` for emotion categories."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from .colours import emotion_colour
from .plots import INK, _layout
from .safety import plot_text as escape  # every user string drawn goes through it

STYLE = {"reference": dict(symbol="circle", size=6, opacity=0.75),
         "library": dict(symbol="square", size=8, opacity=0.9),
         "example": dict(symbol="diamond", size=12, opacity=1.0),
         "yours": dict(symbol="star", size=22, opacity=1.0),
         "label": dict(symbol="diamond-open", size=10, opacity=1.0)}
NAMED = ("example", "yours", "label")  # kinds whose names are written on the map
KIND_TITLES = {"reference": "reference songs", "library": "your library", "example": "examples",
               "yours": "your songs", "label": "emotion words"}


def song_map_figure(xy: np.ndarray, names: Sequence[str], kinds: Sequence[str],
                    colours: Sequence, hover: Sequence[str], title: str,
                    numeric: bool = False, colour_title: str = "") -> go.Figure:
    """Scatter of the map. `kinds` per point: "reference", "library", "example", "yours" or
    "label";
    `colours` the category (or, `numeric`, the value in [-1, 1]) each point is coloured by."""
    xy = np.asarray(xy, dtype=float)
    kinds, hover = list(kinds), list(hover)
    fig = go.Figure()
    for kind in ("reference", "library", "label", "example", "yours"):
        members = [i for i, k in enumerate(kinds) if k == kind]
        if not members:
            continue
        if numeric:
            _numeric_trace(fig, xy, members, kind, names, colours, hover, colour_title)
        else:
            for category in dict.fromkeys(colours[i] for i in members):
                subset = [i for i in members if colours[i] == category]
                _trace(fig, xy, subset, kind, names, hover, emotion_colour(str(category)),
                       f"{category}" if kind == "reference" else f"{KIND_TITLES[kind]}: {category}",
                       legendgroup=str(category))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)  # no fixed aspect: the map fills a phone's tall plot too
    # the legend under the map, so that on a phone it does not take the map's width
    return _layout(fig, title, height=680, uirevision="song-map", dragmode="pan",
                   legend=dict(itemsizing="constant", orientation="h", x=0, y=-0.02,
                               yanchor="top"))


def _trace(fig, xy, members, kind, names, hover, colour, name, legendgroup=None, **marker):
    style = STYLE[kind]
    line = dict(width={"yours": 2, "example": 2, "library": 1}.get(kind, 0), color=INK)
    fig.add_trace(go.Scatter(
        x=xy[members, 0], y=xy[members, 1], name=name, legendgroup=legendgroup,
        mode="markers+text" if kind in NAMED else "markers",
        text=[escape(names[i]) for i in members] if kind in NAMED else None,
        textposition="top center", textfont=dict(size=11, color=INK),
        marker=dict(symbol=style["symbol"], size=style["size"], opacity=style["opacity"],
                    color=colour, line=line if kind != "label" else dict(width=2, color=colour),
                    **marker),
        hovertext=[hover[i] for i in members], hoverinfo="text"))


def _numeric_trace(fig, xy, members, kind, names, values, hover, colour_title):
    values = np.array([values[i] for i in members], dtype=float)
    scale = dict(colorscale="RdBu_r", cmin=-1, cmax=1,
                 colorbar=dict(title=colour_title, thickness=12) if kind == "reference" else None,
                 showscale=kind == "reference")
    colour = np.where(np.isfinite(values), values, 0.0)
    _trace(fig, xy, members, kind, names, hover, colour, KIND_TITLES[kind], **scale)


CLUSTER_PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                   "#b07aa1", "#ff9da7", "#9c755f", "#499894", "#d37295", "#86bcb6",
                   "#b6992d", "#8cd17d", "#a0cbe8", "#ffbe7d")
SINGLETON = "rgba(138,143,152,0.6)"
NAME_FONT = 12  # px, a cluster's name
NAME_GAP = 15  # px between a cluster's name and its nearest point
PHONE_PLOT_PX = np.array([306.0, 580.0])  # the cluster plot's area on a 390-px phone


def cluster_figure(labels: Sequence[str], xy: np.ndarray, assignments: Sequence[int],
                   sources: dict[str, Sequence[str]], shown: Sequence[bool],
                   highlight: set[int] | None = None, title: str = "Label clusters",
                   names: Sequence[str] | None = None, named: set[int] = frozenset()
                   ) -> go.Figure:
    """Labels at fixed positions (`xy`), coloured by cluster (clusters numbered by size, 0 the
    largest). Each multi-label cluster is written once, by its name (`names[cluster]`, e.g.
    "loving / romantic +2"), under its lowest point (or over its highest, to clear another
    name); its labels are in the hover, so words that
    sit close together do not overwrite each other. Labels alone in their cluster, `named`
    ones (your words) and `highlight`ed ones are written at their point. `shown` masks the
    labels drawn; `highlight` (label indices) are drawn large, everything else faded. Every
    point carries its label as customdata."""
    xy = np.asarray(xy, dtype=float)
    assignments = np.asarray(assignments)
    sizes = np.bincount(assignments) if len(assignments) else np.zeros(0, int)
    names = list(names) if names is not None else [f"cluster {c + 1}" for c in range(len(sizes))]
    big = set(highlight or ())
    fig, groups = go.Figure(), []
    for cluster in dict.fromkeys(int(a) for a, s in zip(assignments, shown) if s):
        members = [i for i in range(len(labels)) if assignments[i] == cluster and shown[i]]
        multi = sizes[cluster] > 1
        colour = CLUSTER_PALETTE[cluster % len(CLUSTER_PALETTE)] if multi else SINGLETON
        lit = [highlight is None or i in highlight for i in members]
        written = [not multi or i in named or i in big for i in members]
        fig.add_trace(go.Scatter(
            x=xy[members, 0], y=xy[members, 1], mode="markers+text",
            name=names[cluster] if multi else "alone", showlegend=False,
            customdata=[labels[i] for i in members],
            text=[escape(labels[i]) if w else "" for i, w in zip(members, written)],
            textposition=[_side(xy, i, members) for i in members],
            textfont=dict(size=[13 if i in big else 11 for i in members], color=INK),
            marker=dict(size=[18 if i in big else 10 for i in members],
                        color=colour, opacity=[1.0 if on else 0.25 for on in lit],
                        line=dict(width=[3 if i in big else 0 for i in members], color=INK)),
            hovertext=[_cluster_hover(labels, i, sources, names[cluster], sizes[cluster])
                       for i in members],
            hoverinfo="text"))
        if multi:
            groups.append((cluster, members, colour, any(lit)))
    places = _name_places(xy, np.flatnonzero(np.asarray(shown, bool)),
                          [(names[c], members) for c, members, *_ in groups])
    for (cluster, _, colour, lit), (x, y, shift) in zip(groups, places):
        fig.add_annotation(x=x, y=y, yshift=shift, showarrow=False,
                           text=f"<b>{escape(names[cluster])}</b>",
                           font=dict(size=NAME_FONT, color=colour), opacity=1.0 if lit else 0.4)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)  # no fixed aspect: the points fill a phone's tall plot too
    return _layout(fig, title, height=640, uirevision="clusters", dragmode="pan")


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


def _side(xy: np.ndarray, i: int, members: Sequence[int]) -> str:
    """Where a written label goes: away from its cluster's centre, so it clears the others."""
    dx, dy = xy[i] - xy[members].mean(axis=0) if len(members) > 1 else (0.0, 1.0)
    if abs(dx) > abs(dy):
        return "middle right" if dx > 0 else "middle left"
    return "top center" if dy >= 0 else "bottom center"


def _cluster_hover(labels, i, sources, name, size) -> str:
    where = ", ".join(sources.get(labels[i], ()))
    return (f"<b>{escape(labels[i])}</b><br>{escape(where)}<br>"
            + (f"cluster '{escape(name)}' ({size} labels)" if size > 1
               else "alone in its cluster"))
