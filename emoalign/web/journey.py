"""Explore tab, mood journeys: a playlist whose feeling moves from a start to an end (words, a
song, or a click on the valence/arousal plane), drawn on the plane, listed, played in order
and downloadable as an M3U8.

The songs: the visitor's own and the bundled examples they opened, and, when the app is not
public, the local library (`emoalign index`, $EMOALIGN_LIBRARY). In public mode only the
session's songs, named as the visitor named them: the playlist lists names, never a server
path. Planning is library/journey.py's, reading what was typed library/playlist.py's; this
module gathers the songs and shows the result.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..answer.valence_arousal import QUADRANT_WORDS
from ..cache import BoundedCache
from ..library.journey import DEFAULT_LENGTH, Journey, Pool, plan_present
from ..library.playlist import endpoint, library_pool, locate, m3u8_text, title_of
from ..library.store import Library, LibraryError, default_db_path
from .common import gpu, session_id
from .config import DOWNLOADS, EXAMPLES, MODELS, PUBLIC
from .errors import bind, error_box
from .examples import EXAMPLES_DIR
from .plots import GRID, INK
from .session import Session

COLUMNS = ["#", "song", "valence", "arousal", "step", "alike", "time"]
MAX_LENGTH = 50
GRID_STEPS = 41  # the invisible grid that makes every spot of the plane clickable
_LIBRARY = BoundedCache(2)  # (library file, its state, model) -> (pool, files)

# In the browser: a click on the plane writes "valence,arousal" into the start or the end
# box (the radio says which); Gradio's own input event then carries it to the server.
CLICK_SCRIPT = """
(() => {
  function hook() {
    const plot = document.querySelector('#journey-plane .js-plotly-plot');
    // hooked once per drawing: a redraw may drop plotly's listeners
    if (!plot || !plot.on || (plot._ev && plot._ev.listeners('plotly_click').length)) return;
    plot.on('plotly_click', (event) => {
      const p = event.points && event.points[0];
      if (!p) return;
      const end = document.querySelector('#journey-click input[value="end"]');
      const box = document.querySelector(
        (end && end.checked ? '#journey-to' : '#journey-from') + ' textarea, ' +
        (end && end.checked ? '#journey-to' : '#journey-from') + ' input');
      if (!box) return;
      box.value = `${Number(p.x).toFixed(2)},${Number(p.y).toFixed(2)}`;
      box.dispatchEvent(new Event('input', {bubbles: true}));
    });
  }
  new MutationObserver(hook).observe(document.documentElement, {childList: true, subtree: true});
})();
"""


def journey_pool(session: Session) -> tuple[Pool, list[Path | None]]:
    """The songs a journey picks from and each one's file (None where the server has none:
    an upload Gradio's cache has dropped). Public: the session's songs only."""
    pipe = MODELS.get(session.model)
    example_files = {e.title: e.path for e in EXAMPLES}
    names, va, embeddings, durations, files = [], [], [], [], []
    for name, entry in session.songs.items():
        answer = pipe.valence_arousal(entry.song)
        names.append(name)
        va.append((answer.valence, answer.arousal))
        embeddings.append(entry.song.song_embedding)
        durations.append(entry.song.duration_s)
        files.append(example_files.get(entry.song.name) if entry.source == "example" else
                     Path(entry.file) if entry.file and Path(entry.file).is_file() else None)
    shelved = None if PUBLIC else library_songs(session)
    if shelved is not None:
        pool, shelf_files = shelved
        names += pool.names
        va += list(map(tuple, pool.va))
        embeddings += list(pool.embeddings)
        durations += list(pool.durations)
        files += shelf_files
    albums = [None] * len(session.songs) + ([] if shelved is None else shelved[0].albums)
    if not names:
        raise ValueError("Analyse a song or two first (tab 'Song'), or pick examples: a "
                         "journey goes through your songs.")
    return Pool(names, np.array(va).reshape(-1, 2), np.array(embeddings).reshape(len(names), -1),
                durations, albums), files


def library_songs(session: Session) -> tuple[Pool, list[Path | None]] | None:
    """The local library's songs under the session's model, with their files; None without
    a library. Re-read only when the file changes."""
    path = default_db_path()
    if not path.is_file():
        return None
    pipe = MODELS.get(session.model)
    model = (pipe.encoder.name, pipe.adapter_card["sha256"])
    state = tuple(p.stat().st_mtime_ns for p in (path, path.with_name(path.name + "-wal"))
                  if p.exists())

    def read():
        try:
            with Library(path, create=False) as library:
                pool, _, _ = library_pool(library.index(*model))
                roots = [Path(r) for r in library.roots()]
        except LibraryError:
            return None
        # a file gone from disk keeps a path that is not there (skipped when chosen);
        # None only where the library does not say where its songs are (not playable)
        return pool, [locate(name, roots) or (roots[0] / name if roots else None)
                      for name in pool.names]
    return _LIBRARY.get_or_create((str(path), state, model), read)


@gpu
def make_journey(start: str, end: str, length: float, session: Session,
                 request: gr.Request = None):
    """A journey from `start` to `end` (each: emotion words, a song's name, or a point
    "valence,arousal") of `length` songs. Returns: the plane with the path, the list, the
    M3U8 file, the playlist to play, the first song's audio and a line on what plays."""
    pool, files = journey_pool(session)
    rows = {name: row for row, name in enumerate(pool.names)}
    pipe = MODELS.get(session.model)
    a = endpoint(start, pool, rows.get, lambda: pipe)
    b = endpoint(end, pool, rows.get, lambda: pipe)
    length = int(np.clip(length or DEFAULT_LENGTH, 2, MAX_LENGTH))
    journey, missing = plan_present(pool, a, b, min(length, len(pool)),
                                    present=lambda r: files[r] is None or files[r].is_file())
    playlist = {"files": [str(files[r]) if files[r] else None for r in journey.rows],
                "names": [pool.names[r] for r in journey.rows], "at": -1}
    m3u8 = write_download(journey, pool, files, session_id(request))
    notes = [f"{pool.names[r]} is no longer on disk and was skipped." for r in missing]
    playlist, audio, playing = step(playlist, +1, request)
    if len(journey) < length:
        notes.insert(0, f"Only {len(journey)} songs to choose from.")
    return (journey_figure(journey, pool), journey_frame(journey, pool), m3u8, playlist,
            audio, " ".join(notes + [playing]))


def write_download(journey: Journey, pool: Pool, files: list[Path | None],
                   session: str | None) -> str:
    """The M3U8 in the session's download folder: file paths on this machine when local,
    the songs' names only in public mode (the visitor has the files)."""
    locations = [pool.names[r] if PUBLIC or files[r] is None else os.path.abspath(files[r])
                 for r in journey.rows]
    names = [Path(pool.names[r]).stem for r in journey.rows]
    out = DOWNLOADS.fresh(session) / "journey.m3u8"
    out.write_text(m3u8_text(list(zip(locations, names, journey.durations)),
                             title_of(journey)), encoding="utf-8")
    return str(out)


def step(playlist: dict | None, direction: int, request: gr.Request | None = None):
    """Move to the next (or previous) playable song. Returns the playlist, the audio (a copy
    in the session's download folder: Gradio serves no file from the music folders) and a
    line on what plays."""
    if not playlist or not playlist.get("names"):
        return playlist, gr.skip(), "Make a journey first."
    files, names, at = playlist["files"], playlist["names"], playlist["at"]
    k = at + direction
    while 0 <= k < len(files) and files[k] is None:
        k += direction
    if not 0 <= k < len(files):
        return playlist, gr.skip(), ("The journey is over." if direction > 0 else
                                     "This is the first song.")
    playlist = {**playlist, "at": k}
    note = "" if all(files) else " (songs no longer on the server play in your own player)"
    audio = playable(Path(files[k]), session_id(request))
    return playlist, audio, f"Playing {k + 1} of {len(files)}: {names[k]}{note}"


def playable(file: Path, session: str | None) -> str:
    """A path Gradio will serve: the bundled examples as they are, any other song copied into
    the session's download folder (removed when the session ends)."""
    if EXAMPLES_DIR.resolve() in file.resolve().parents:
        return str(file)
    copy = DOWNLOADS.fresh(session) / file.name
    shutil.copyfile(file, copy)
    return str(copy)


def next_song(playlist: dict | None, request: gr.Request = None):
    """The next song of the journey (after one ends, or on 'Next')."""
    return step(playlist, +1, request)


def previous_song(playlist: dict | None, request: gr.Request = None):
    return step(playlist, -1, request)


def journey_frame(journey: Journey, pool: Pool) -> pd.DataFrame:
    rows = []
    for k, row in enumerate(journey.rows):
        seconds = int(round(journey.durations[k]))
        rows.append({"#": k + 1, "song": pool.names[row], "valence": round(float(journey.va[k, 0]), 2),
                     "arousal": round(float(journey.va[k, 1]), 2),
                     "step": round(float(journey.steps[k - 1]), 2) if k else None,
                     "alike": round(float(journey.similarity[k - 1]), 2) if k else None,
                     "time": f"{seconds // 60}:{seconds % 60:02d}"})
    return pd.DataFrame(rows, columns=COLUMNS)


def journey_figure(journey: Journey | None = None, pool: Pool | None = None) -> go.Figure:
    """The valence/arousal plane: every song (grey), the path (dashed) and the journey's
    songs in order; an invisible grid makes any spot clickable."""
    fig = go.Figure()
    axis = np.linspace(-1, 1, GRID_STEPS)
    fig.add_trace(go.Heatmap(x=axis, y=axis, z=np.zeros((GRID_STEPS, GRID_STEPS)),
                             colorscale=[[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
                             showscale=False, name="plane",
                             hovertemplate="valence %{x:.2f}, arousal %{y:.2f}<br>click: "
                                           "start or end here<extra></extra>"))
    for q, (x, y) in {1: (0.55, 0.95), 2: (-0.55, 0.95), 3: (-0.55, -0.95),
                      4: (0.55, -0.95)}.items():
        fig.add_annotation(x=x, y=y, text=f"Q{q} {QUADRANT_WORDS[q]}", showarrow=False,
                           font=dict(size=11, color=INK))
    if pool is not None:
        fig.add_trace(go.Scatter(x=pool.va[:, 0], y=pool.va[:, 1], mode="markers",
                                 marker=dict(size=6, color="rgba(138,143,152,0.45)"),
                                 text=pool.names, name="songs",
                                 hovertemplate="%{text}<extra></extra>"))
    if journey is not None:
        fig.add_trace(go.Scatter(x=journey.waypoints[:, 0], y=journey.waypoints[:, 1],
                                 mode="lines", line=dict(dash="dash", color=INK), name="path",
                                 hoverinfo="skip"))
        names = [pool.names[r] for r in journey.rows] if pool is not None else None
        fig.add_trace(go.Scatter(x=journey.va[:, 0], y=journey.va[:, 1], mode="lines+markers+text",
                                 text=[str(k + 1) for k in range(len(journey))],
                                 textposition="top center", customdata=names,
                                 marker=dict(size=11, color=np.arange(len(journey)),
                                             colorscale="Plasma"),
                                 line=dict(color="rgba(99,102,241,0.6)"), name="journey",
                                 hovertemplate="%{text}. %{customdata}<extra></extra>"))
    fig.update_layout(height=440, margin=dict(l=10, r=10, t=40, b=10), template="none",
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      font=dict(color=INK), showlegend=False, clickmode="event",
                      title=dict(text="Valence / arousal: click to set the start or the end",
                                 x=0.0, xanchor="left"))
    fig.update_xaxes(range=[-1.05, 1.05], title="valence", gridcolor=GRID, zerolinecolor=GRID)
    fig.update_yaxes(range=[-1.05, 1.05], title="arousal", gridcolor=GRID, zerolinecolor=GRID,
                     scaleanchor="x")
    return fig


def build(session: gr.State) -> None:
    """The journey section of the Explore tab."""
    gr.Markdown("### Journeys: a playlist from one feeling to another\nStart and end: "
                "emotion words, a song's name, or a click on the plane. The same twice "
                "makes a mood-steady mix.")
    with gr.Row(equal_height=True):
        start_in = gr.Textbox("sad", label="From", elem_id="journey-from", scale=2)
        end_in = gr.Textbox("calm, hopeful", label="To", elem_id="journey-to", scale=2)
        length_in = gr.Slider(2, MAX_LENGTH, value=DEFAULT_LENGTH, step=1, label="Songs")
    with gr.Row(equal_height=True):
        gr.Radio(["start", "end"], value="start", label="A click on the plane sets the",
                 elem_id="journey-click", interactive=True)  # read by CLICK_SCRIPT only
        make_btn = gr.Button("Make the journey", variant="primary")
    journey_error = error_box("journey-error")
    plane_out = gr.Plot(journey_figure(), elem_id="journey-plane", show_label=False)
    table_out = gr.Dataframe(pd.DataFrame(columns=COLUMNS), label="The journey",
                             interactive=False, elem_id="journey-table", wrap=True)
    with gr.Row(equal_height=True):
        previous_btn = gr.Button("◀ Previous", size="sm")
        playing_out = gr.Markdown(elem_id="journey-playing")
        next_btn = gr.Button("Next ▶", size="sm")
    player = gr.Audio(type="filepath", autoplay=True, interactive=False, label="Now playing",
                      elem_id="journey-player")
    file_out = gr.File(label="Playlist (.m3u8)", interactive=False, elem_id="journey-file")
    playlist = gr.State(None)
    bind([make_btn.click], make_journey, [start_in, end_in, length_in, session],
         [plane_out, table_out, file_out, playlist, player, playing_out], journey_error,
         api_name="journey", concurrency_limit=2, concurrency_id="search")
    for trigger, fn in ((player.stop, next_song), (next_btn.click, next_song),
                        (previous_btn.click, previous_song)):
        trigger(fn, inputs=[playlist], outputs=[playlist, player, playing_out],
                api_visibility="private", queue=False)
