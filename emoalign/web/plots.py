"""Plotly figures for the app: pure functions from arrays and lists to `go.Figure`.

No model here: every function takes numbers that the pipeline already computed and only
arranges them for the eye (ranking, layout, colours, hover text).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ..answer.valence_arousal import QUADRANT_WORDS
from ..safety import plot_text
from .colours import QUADRANT_COLOURS, emotion_colour

HEIGHT = 420
# Figures follow the page's light or dark theme: transparent backgrounds, and grey text and
# grid lines that read on both.
INK = "#8a8f98"
GRID = "rgba(138,143,152,0.25)"


def _layout(fig: go.Figure, title: str, height: int = HEIGHT, **kwargs) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0.0, xanchor="left"), height=height,
                      margin=dict(l=10, r=10, t=50, b=10), template="none",
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      font=dict(color=INK), **kwargs)
    fig.update_xaxes(gridcolor=GRID, zerolinecolor=GRID)
    fig.update_yaxes(gridcolor=GRID, zerolinecolor=GRID)
    return fig


def empty_figure(message: str, height: int = 240) -> go.Figure:
    """A blank figure carrying a short message (before anything has been computed)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font=dict(size=14, color=INK),
                       xref="paper", yref="paper", x=0.5, y=0.5)
    fig = _layout(fig, "", height=height)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def score_bars(words: Sequence[str], scores: Sequence[float], votes: Sequence[int] | None = None,
               n_segments: int | None = None, top_n: int = 15,
               title: str = "Top emotions", raw: Sequence[float] | None = None,
               calibrated: bool = False) -> go.Figure:
    """Horizontal bars of the `top_n` best scores, best on top; hover adds the raw cosine and
    the segment votes. `calibrated` scores (shares of the reference songs) get a 0-1 axis."""
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(-scores, kind="stable")[:top_n]
    name = "score" if calibrated else "cosine"
    shown = [plot_text(w) for w in words]  # user words: drawn, never read as HTML
    hover = [f"<b>{shown[i]}</b><br>{name} {scores[i]:.3f}" +
             (f"<br>cosine {raw[i]:.3f}" if raw is not None and calibrated else "") +
             (f"<br>top label in {votes[i]} of {n_segments} segments"
              if votes is not None and n_segments else "") for i in order]
    fig = go.Figure(go.Bar(
        x=scores[order][::-1], y=[shown[i] for i in order][::-1], orientation="h",
        text=[f"{scores[i]:.2f}" for i in order][::-1], textposition="auto",
        textfont=dict(size=13), marker=dict(color=[emotion_colour(words[i]) for i in order][::-1]),
        hovertext=hover[::-1], hoverinfo="text"))
    if calibrated:
        fig.update_xaxes(title="score: share of reference songs it beats",
                         range=[0, 1])
    else:
        fig.update_xaxes(title="cosine similarity (song mean embedding)")
    fig.update_yaxes(automargin=True, tickmode="linear", dtick=1)  # every label, no skipping
    fig = _layout(fig, title, height=max(260, 110 + 26 * len(order)))
    return fig.update_layout(margin=dict(b=50))


def timeline_heatmap(segment_starts: Sequence[float], words: Sequence[str],
                     segment_scores: np.ndarray, segment_seconds: float = 10.0,
                     top_n: int = 12, title: str = "Emotion timeline",
                     calibrated: bool = False, duration: float | None = None,
                     seeks: bool = True) -> go.Figure:
    """Heatmap of (segments x words) scores on the song's time axis in seconds (the player's),
    one cell per segment; rows are the `top_n` words by mean score. `calibrated` scores
    (shares of the reference songs) use a fixed 0-1 colour scale. `seeks`: a click plays the
    segment (the Song tab's timeline, under its player), and the axis says so."""
    segment_scores = np.asarray(segment_scores, dtype=float)
    starts = np.asarray(segment_starts, dtype=float)
    order = np.argsort(-segment_scores.mean(axis=0), kind="stable")[:top_n]
    end = duration if duration else (starts[-1] + segment_seconds if len(starts) else 0)
    edges = np.append(starts, max(end, starts[-1] + 1) if len(starts) else 0)
    z = segment_scores[:, order].T  # (words, segments)
    name = "score" if calibrated else "cosine"
    spans = [f"{clock(a)}-{clock(b)}" for a, b in zip(edges[:-1], edges[1:])]
    fig = go.Figure(go.Heatmap(
        z=z, x=edges, y=[plot_text(words[i]) for i in order], colorscale="Viridis",
        customdata=np.tile(np.array(spans, dtype=object), (len(order), 1)),
        colorbar=dict(title=name, thickness=12), **(dict(zmin=0, zmax=1) if calibrated else {}),
        hovertemplate=f"%{{y}}<br>%{{customdata}}<br>{name} %{{z:.2f}}"
                      f"{'<br>click to play from here' if seeks else ''}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", automargin=True, tickmode="linear", dtick=1)
    ticks = np.arange(0, edges[-1] + 1e-9, 30 if edges[-1] > 120 else 10) if len(edges) else []
    fig.update_xaxes(title="time (click a segment to play it)" if seeks else "time",
                     range=[0, edges[-1]],
                     tickvals=list(ticks), ticktext=[clock(t) for t in ticks])
    fig = _layout(fig, title, height=max(260, 100 + 24 * len(order)))
    return fig.update_layout(margin=dict(b=50))


def va_plane(valence: float, arousal: float, segments: np.ndarray | None = None,
             name: str = "this song", quadrant: int | None = None,
             title: str = "Valence / arousal") -> go.Figure:
    """The song's point on the valence/arousal plane, [-1, 1] each, with the four quadrants
    named in words and tinted in their colours; `segments` (S, 2) drawn as a faint path."""
    fig = go.Figure()
    for q, (x0, y0) in {1: (0, 0), 2: (-1, 0), 3: (-1, -1), 4: (0, -1)}.items():
        fig.add_shape(type="rect", x0=x0, y0=y0, x1=x0 + 1, y1=y0 + 1, line_width=0,
                      fillcolor=QUADRANT_COLOURS[q], opacity=0.28 if q == quadrant else 0.10,
                      layer="below")
        fig.add_annotation(x=x0 + 0.5, y=y0 + (0.92 if y0 == 0 else 0.08),
                           text=f"{QUADRANT_WORDS[q]}", showarrow=False,
                           font=dict(size=12, color=QUADRANT_COLOURS[q]))
    if segments is not None and len(segments) > 1:
        fig.add_trace(go.Scatter(x=segments[:, 0], y=segments[:, 1], mode="lines+markers",
                                 name="10-s segments", line=dict(width=1, color=INK),
                                 marker=dict(size=5, color=INK), opacity=0.6,
                                 hovertemplate="segment<br>valence %{x:+.2f}<br>"
                                               "arousal %{y:+.2f}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=[valence], y=[arousal], mode="markers", name=plot_text(name),
        marker=dict(size=18, symbol="circle",
                    color=QUADRANT_COLOURS.get(quadrant or 0, "#e15759"),
                    line=dict(width=2, color="white")),
        hovertemplate="%{fullData.name}<br>valence %{x:+.2f}<br>arousal %{y:+.2f}"
                      "<extra></extra>"))  # the name as data: '%{' in it is no template
    fig.update_xaxes(range=[-1.05, 1.05], title="valence (negative ... positive)", zeroline=True,
                     constrain="domain")
    fig.update_yaxes(range=[-1.05, 1.05], title="arousal (calm ... energetic)", zeroline=True,
                     scaleanchor="x", scaleratio=1)
    fig = _layout(fig, title, height=400, showlegend=False)
    return fig.update_layout(margin=dict(l=50, r=10, t=40, b=50))


def loss_curve(history: Sequence[dict], title: str = "Training") -> go.Figure:
    """Lines of every numeric key of `history` (one dict per epoch, with an "epoch" key)."""
    fig = go.Figure()
    keys = list(dict.fromkeys(k for row in history for k, v in row.items()
                              if k != "epoch" and isinstance(v, (int, float))
                              and not isinstance(v, bool)))
    for key in keys:
        rows = [row for row in history if isinstance(row.get(key), (int, float))]
        fig.add_trace(go.Scatter(x=[row.get("epoch", i + 1) for i, row in enumerate(rows)],
                                 y=[row[key] for row in rows], mode="lines+markers", name=key,
                                 yaxis="y2" if _is_metric(key) else "y"))
    fig.update_layout(xaxis=dict(title="epoch"), yaxis=dict(title="loss"),
                      yaxis2=dict(title="metric", overlaying="y", side="right", showgrid=False))
    return _layout(fig, title, height=360)


def _is_metric(key: str) -> bool:
    return any(tag in key.lower() for tag in ("f1", "auc", "acc", "precision", "recall"))


def clock(seconds: float) -> str:
    """Seconds as m:ss."""
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
