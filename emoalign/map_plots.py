"""Plotly figures of the song map: pure functions from coordinates and categories to a figure.
Reference songs are small dots, songs of the local library squares, bundled examples
diamonds, the visitor's songs large outlined stars with their names; colours follow `colours.emotion_colour` for emotion categories."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np
import plotly.graph_objects as go

from .colours import emotion_colour
from .plots import INK, _layout

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
