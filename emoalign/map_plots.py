"""Plotly figures of the song map: pure functions from coordinates and categories to a figure.
Reference songs are small dots, bundled examples diamonds, the visitor's songs large outlined
stars with their names; colours follow `colours.emotion_colour` for emotion categories."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from .colours import emotion_colour
from .plots import INK, _layout

STYLE = {"reference": dict(symbol="circle", size=6, opacity=0.75),
         "example": dict(symbol="diamond", size=12, opacity=1.0),
         "yours": dict(symbol="star", size=22, opacity=1.0),
         "label": dict(symbol="diamond-open", size=10, opacity=1.0)}
NAMED = ("example", "yours", "label")  # kinds whose names are written on the map
KIND_TITLES = {"reference": "reference songs", "example": "examples", "yours": "your songs",
               "label": "emotion words"}


def song_map_figure(xy: np.ndarray, names: Sequence[str], kinds: Sequence[str],
                    colours: Sequence, hover: Sequence[str], title: str,
                    numeric: bool = False, colour_title: str = "") -> go.Figure:
    """Scatter of the map. `kinds` per point: "reference", "example", "yours" or "label";
    `colours` the category (or, `numeric`, the value in [-1, 1]) each point is coloured by."""
    xy = np.asarray(xy, dtype=float)
    kinds, hover = list(kinds), list(hover)
    fig = go.Figure()
    for kind in ("reference", "label", "example", "yours"):
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
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    return _layout(fig, title, height=620, legend=dict(itemsizing="constant"),
                   uirevision="song-map", dragmode="pan")


def _trace(fig, xy, members, kind, names, hover, colour, name, legendgroup=None, **marker):
    style = STYLE[kind]
    line = (dict(width=2, color=INK) if kind in ("yours", "example") else dict(width=0))
    fig.add_trace(go.Scatter(
        x=xy[members, 0], y=xy[members, 1], name=name, legendgroup=legendgroup,
        mode="markers+text" if kind in NAMED else "markers",
        text=[names[i] for i in members] if kind in NAMED else None,
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


def cluster_figure(labels: Sequence[str], xy: np.ndarray, assignments: Sequence[int],
                   sources: dict[str, Sequence[str]], shown: Sequence[bool],
                   highlight: set[int] | None = None, title: str = "Label clusters"
                   ) -> go.Figure:
    """Labels at fixed positions (`xy`), coloured by cluster (clusters numbered by size, 0 the
    largest), each multi-label cluster named at its centre by its first labels. `shown` masks
    the labels drawn; `highlight` (label indices) are drawn large, everything else faded."""
    xy = np.asarray(xy, dtype=float)
    assignments = np.asarray(assignments)
    sizes = np.bincount(assignments) if len(assignments) else np.zeros(0, int)
    fig = go.Figure()
    for cluster in dict.fromkeys(int(a) for a, s in zip(assignments, shown) if s):
        members = [i for i in range(len(labels)) if assignments[i] == cluster and shown[i]]
        multi = sizes[cluster] > 1
        colour = CLUSTER_PALETTE[cluster % len(CLUSTER_PALETTE)] if multi else SINGLETON
        lit = [highlight is None or i in highlight for i in members]
        fig.add_trace(go.Scatter(
            x=xy[members, 0], y=xy[members, 1], mode="markers+text",
            name=f"cluster {cluster + 1}" if multi else "alone",
            legendgroup="alone" if not multi else None, showlegend=False,
            text=[labels[i] for i in members], textposition="top center",
            textfont=dict(size=[13 if highlight and i in highlight else 10 for i in members],
                          color=INK),
            marker=dict(size=[18 if highlight and i in highlight else 10 for i in members],
                        color=colour, opacity=[1.0 if on else 0.25 for on in lit],
                        line=dict(width=[3 if highlight and i in highlight else 0
                                         for i in members], color=INK)),
            hovertext=[_cluster_hover(labels, i, sources, cluster, sizes) for i in members],
            hoverinfo="text"))
        if multi:
            centre = xy[members].mean(axis=0)
            fig.add_annotation(x=centre[0], y=centre[1], showarrow=False, yshift=-16,
                               text=f"<b>{cluster + 1}</b>", font=dict(size=11, color=colour))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    return _layout(fig, title, height=640, uirevision="clusters", dragmode="pan")


def _cluster_hover(labels, i, sources, cluster, sizes) -> str:
    from html import escape
    where = ", ".join(sources.get(labels[i], ()))
    return (f"<b>{escape(labels[i])}</b><br>{escape(where)}<br>"
            + (f"cluster {cluster + 1} ({sizes[cluster]} labels)" if sizes[cluster] > 1
               else "alone in its cluster"))
