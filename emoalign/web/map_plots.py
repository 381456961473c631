"""Plotly figures of the song map: pure functions from coordinates and categories to a figure.
Reference songs are small dots, songs of the local library squares, bundled examples
diamonds, the visitor's songs large outlined stars with their names; colours follow `colours.emotion_colour` for emotion categories."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..safety import plot_text as escape  # every user string drawn goes through it
from .colours import emotion_colour
from .plots import INK, _layout

STYLE = {"reference": dict(symbol="circle", size=6, opacity=0.75),
         "library": dict(symbol="square", size=8, opacity=0.9),
         "example": dict(symbol="diamond", size=12, opacity=1.0),
         "yours": dict(symbol="star", size=22, opacity=1.0),
         "label": dict(symbol="diamond-open", size=10, opacity=1.0)}
NAMED = ("example", "yours", "label")  # kinds whose names are written on the map
TEXT_PX = 11  # font size of a written name
MAP_PHONE_PX = np.array([330.0, 560.0])  # the map's plot area on a 390-px phone
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
    places = text_places(xy, names, kinds)
    fig = go.Figure()
    for kind in ("reference", "library", "label", "example", "yours"):
        members = [i for i, k in enumerate(kinds) if k == kind]
        if not members:
            continue
        if numeric:
            _numeric_trace(fig, xy, members, kind, names, colours, hover, colour_title, places)
        else:
            for category in dict.fromkeys(colours[i] for i in members):
                subset = [i for i in members if colours[i] == category]
                _trace(fig, xy, subset, kind, names, hover, emotion_colour(str(category)),
                       f"{category}" if kind == "reference" else f"{KIND_TITLES[kind]}: {category}",
                       places, legendgroup=str(category))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)  # no fixed aspect: the map fills a phone's tall plot too
    # the legend under the map, so that on a phone it does not take the map's width
    return _layout(fig, title, height=680, uirevision="song-map", dragmode="pan",
                   legend=dict(itemsizing="constant", orientation="h", x=0, y=-0.02,
                               yanchor="top"))


def text_places(xy: np.ndarray, names: Sequence[str], kinds: Sequence[str]
                ) -> dict[int, str | None]:
    """Where each written name goes (a Plotly textposition), or None where every place would
    overlap a name already placed (that name is then on hover only): your songs first, then
    the examples, then emotion words. Sized as on a phone, where space is least."""
    written = [i for kind in ("yours", "example", "label") for i, k in enumerate(kinds)
               if k == kind]
    if not written:
        return {}
    lo, span = xy.min(axis=0), np.ptp(xy, axis=0)
    span[span == 0] = 1.0
    dots = (xy - lo) / span * MAP_PHONE_PX
    boxes: list[tuple] = []
    places: dict[int, str | None] = {}
    for i in written:
        x, y = dots[i]
        width, height = len(str(names[i])) * 0.55 * TEXT_PX, TEXT_PX * 1.3
        options = {"top center": (x - width / 2, x + width / 2, y + 6, y + 6 + height),
                   "bottom center": (x - width / 2, x + width / 2, y - 6 - height, y - 6),
                   "middle right": (x + 8, x + 8 + width, y - height / 2, y + height / 2),
                   "middle left": (x - 8 - width, x - 8, y - height / 2, y + height / 2)}
        free = [(place, box) for place, box in options.items()
                if not any(_overlap(box, other) for other in boxes)]
        places[i] = free[0][0] if free else None
        if free:
            boxes.append(free[0][1])
    return places


def _overlap(a: tuple, b: tuple) -> bool:
    """Two (left, right, bottom, top) boxes overlap."""
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def _trace(fig, xy, members, kind, names, hover, colour, name, places=None, legendgroup=None,
           **marker):
    style = STYLE[kind]
    line = dict(width={"yours": 2, "example": 2, "library": 1}.get(kind, 0), color=INK)
    places = places or {}
    fig.add_trace(go.Scatter(
        x=xy[members, 0], y=xy[members, 1], name=name, legendgroup=legendgroup,
        mode="markers+text" if kind in NAMED else "markers",
        text=[escape(names[i]) if places.get(i, "top center") else "" for i in members]
        if kind in NAMED else None,
        textposition=[places.get(i) or "top center" for i in members] if kind in NAMED
        else None, textfont=dict(size=TEXT_PX, color=INK),
        marker=dict(symbol=style["symbol"], size=style["size"], opacity=style["opacity"],
                    color=colour, line=line if kind != "label" else dict(width=2, color=colour),
                    **marker),
        hovertext=[hover[i] for i in members], hoverinfo="text"))


def _numeric_trace(fig, xy, members, kind, names, values, hover, colour_title, places=None):
    values = np.array([values[i] for i in members], dtype=float)
    scale = dict(colorscale="RdBu_r", cmin=-1, cmax=1,
                 colorbar=dict(title=colour_title, thickness=12) if kind == "reference" else None,
                 showscale=kind == "reference")
    colour = np.where(np.isfinite(values), values, 0.0)
    _trace(fig, xy, members, kind, names, hover, colour, KIND_TITLES[kind], places, **scale)
