"""Explore tab, songs side: the map, search by emotion words and similar songs, over the
reference corpus (there from the first visit), the bundled examples, the visitor's songs and,
when the app is not public, the local library (a folder indexed with `emoalign index`).

`catalogue_for(session, extra)` is the one place that gathers what is browsable; `extra`
takes any further songs as `Catalogue.extend` keyword arguments (`library_extra` gives the
library's).
"""

from __future__ import annotations

import dataclasses
import html
import logging

import gradio as gr
import numpy as np
import pandas as pd

from . import map_plots
from . import journey
from ..answer.pipeline import EmotionPipeline
from ..cache import BoundedCache
from ..library.atlas import load_song_map, place
from ..library.catalogue import SOURCES, Catalogue, library_songs, reference_catalogue
from ..library.store import Library, LibraryError, default_db_path
from ..text.labels import parse_words
from .common import gpu, vocabulary, vocabulary_choices
from .config import ANALYSES, EXAMPLES, MODELS, PUBLIC
from .errors import bind, error_box
from .session import Session

RANKING_COLUMNS = ["rank", "song", "score", "source", "known label"]
RANKING_WIDTHS = [60, 280, 80, 220, 160]  # px, so that on a phone the table scrolls sideways
COLOUR_BY = ["predicted emotion", "valence", "arousal", "dataset label", "dataset"]
ALIASES = {"true emotion": "dataset label"}  # the name an earlier API used
NO_REFERENCE_AUDIO = (
    "Reference songs are named from their datasets' metadata: artist and title where the "
    "dataset gives them (4Q; the game and title for VGMIDI, the title for MemoMusic; Emotify "
    "names only its genre and track number), and the label the dataset gives them. Their "
    "audio is not here: the datasets allow research use, not redistribution, so a reference "
    "song cannot be played, only found by its name. The bundled examples and your songs can "
    "be played in the Song tab.")
SHOWN = 20  # rows of a ranking (the visitor's songs are always listed too)
_BASE = BoundedCache(3)  # model key -> reference + examples catalogue
_LIBRARY = BoundedCache(2)  # (library file, its state, model) -> its songs for that model
log = logging.getLogger("emoalign.app")


def base_catalogue(session: Session) -> Catalogue:
    """Reference corpus + bundled examples under the session's model (built once per model)."""
    def build() -> Catalogue:
        pipe = MODELS.get(session.model)
        if pipe.reference is None:
            raise ValueError("This model has no reference corpus, so there is no map to show; "
                             "switch back to the default adapter.")
        catalogue = reference_catalogue(pipe.reference, pipe.reference_embeddings,
                                        load_song_map(session.model.encoder))
        songs = [ANALYSES.analyse(session.model, e.path, e.title)[0] for e in EXAMPLES]
        return with_songs(pipe, catalogue, songs, "example",
                          [", ".join(e.emotions) or "unknown" for e in EXAMPLES])
    return _BASE.get_or_create(MODELS.key(session.model), build)


def with_songs(pipe: EmotionPipeline, catalogue: Catalogue, songs: list, source: str,
               known: list[str] | None = None) -> Catalogue:
    """`catalogue` plus analysed songs (their valence/arousal from `pipe`)."""
    if not songs:
        return catalogue
    va = [(v.valence, v.arousal) for v in map(pipe.valence_arousal, songs)]
    return catalogue.extend([s.name for s in songs], np.stack([s.song_embedding for s in songs]),
                            [source] * len(songs), np.array(va), known)


def catalogue_for(session: Session, extra: dict | None = None) -> Catalogue:
    """Everything browsable for this session: reference, examples, its own songs, `extra`."""
    pipe = MODELS.get(session.model)
    songs = [dataclasses.replace(e.song, name=name) for name, e in session.songs.items()
             if e.source == "yours"]
    catalogue = with_songs(pipe, base_catalogue(session), songs, "yours")
    return catalogue.extend(**extra) if extra else catalogue


def library_extra(session: Session) -> dict | None:
    """The local library's songs indexed with the session's model, as `catalogue_for`'s
    `extra`; None in public mode (the library is never read there), when there is no library
    file ($EMOALIGN_LIBRARY, else ~/.emoalign/library.db), or when it cannot be read (logged).
    Re-read only when the file changes."""
    path = default_db_path()
    if PUBLIC or not path.is_file():
        return None
    pipe = MODELS.get(session.model)
    model = (pipe.encoder.name, pipe.adapter_card["sha256"])
    state = tuple(p.stat().st_mtime_ns for p in (path, path.with_name(path.name + "-wal"))
                  if p.exists())

    def read() -> dict | None:
        try:
            with Library(path, create=False) as library:
                songs = library_songs(library.index(*model))
        except LibraryError as error:
            log.warning("library not shown: %s", error)
            return None
        return songs if songs["names"] else None
    return _LIBRARY.get_or_create((str(path), state, model), read)


def browsable(session: Session) -> Catalogue:
    """What the map, search and similar range over: `catalogue_for` with the library."""
    return catalogue_for(session, library_extra(session))


@gpu
def embedding_map(vocabulary_name: str, colour_by: str, show_labels: bool, session: Session):
    """The map of the reference songs, the examples and yours (stars), fitted once offline;
    new songs are placed among their nearest reference songs. `colour_by`: one of COLOUR_BY.
    Returns: the figure and a line saying what was drawn."""
    colour_by = ALIASES.get(colour_by, colour_by) or COLOUR_BY[0]
    if colour_by not in COLOUR_BY:
        raise ValueError(f"Colour by one of: {', '.join(COLOUR_BY)}.")
    pipe = MODELS.get(session.model)
    catalogue = browsable(session)
    labels, display = vocabulary(vocabulary_name)
    predicted = [display[labels[j]] for j in pipe.score_embeddings(
        catalogue.embeddings, labels, np.stack([catalogue.valence, catalogue.arousal], 1)).argmax(axis=1)]
    colours = {"predicted emotion": predicted, "valence": list(catalogue.valence),
               "arousal": list(catalogue.arousal), "dataset label": catalogue.known,
               "dataset": [d or SOURCES[s] for d, s in zip(catalogue.datasets,
                                                           catalogue.sources)]}[colour_by]
    hover = [song_hover(catalogue, i, predicted[i]) for i in range(len(catalogue))]
    xy, names, kinds = catalogue.xy, list(catalogue.names), list(catalogue.sources)
    if show_labels:
        label_xy = place(pipe.text.embed(labels), catalogue.embeddings[:catalogue.n_anchor],
                         catalogue.xy[:catalogue.n_anchor])
        xy = np.vstack([xy, label_xy])
        names += [display[label] for label in labels]
        kinds += ["label"] * len(labels)
        colours = list(colours) + ([np.nan] * len(labels) if colour_by in ("valence", "arousal")
                                   else [display[label] for label in labels])
        hover += [f"<b>{html.escape(display[label])}</b><br>an emotion word, placed among the "
                  f"songs it fits best" for label in labels]
    n_yours, n_library = kinds.count("yours"), kinds.count("library")
    title = (f"{len(catalogue)} songs<br><sup>{catalogue.n_anchor} reference, "
             f"{kinds.count('example')} examples, {n_yours} yours"
             + (f", {n_library} in your library" if n_library else "") + "</sup>")
    figure = map_plots.song_map_figure(xy, names, kinds, colours, hover, title,
                                       numeric=colour_by in ("valence", "arousal"),
                                       colour_title=colour_by)
    info = (f"Map of {len(catalogue)} songs ({n_yours} yours, shown as stars"
            + (f"; {n_library} from your library, as squares" if n_library else "")
            + ") fitted once "
            f"with UMAP on the reference corpus; a new song sits among the reference songs it "
            f"sounds most like. Coloured by {colour_by}"
            f"{f'; {len(labels)} emotion words as open diamonds' if show_labels else ''}. "
            + NO_REFERENCE_AUDIO)
    return figure, info


def song_hover(catalogue: Catalogue, i: int, predicted: str) -> str:
    va = (f"<br>valence {catalogue.valence[i]:+.2f}, arousal {catalogue.arousal[i]:+.2f}"
          if np.isfinite(catalogue.valence[i]) else "")
    where = catalogue.datasets[i] or SOURCES.get(catalogue.sources[i], catalogue.sources[i])
    where += ", a reference song without audio" if catalogue.sources[i] == "reference" else ""
    return (f"<b>{html.escape(catalogue.names[i])}</b><br>{html.escape(where)}"
            f"<br>predicted: {html.escape(predicted)}{va}"
            f"<br>dataset label: {html.escape(catalogue.known[i])}")


def ranking_frame(catalogue: Catalogue, ranked: list[tuple[int, float]]) -> pd.DataFrame:
    """The best `SHOWN` rows, then any of the visitor's songs further down (with their rank)."""
    rows = [{"rank": r + 1, "song": catalogue.names[i], "score": score,
             "source": catalogue.datasets[i] and f"reference ({catalogue.datasets[i]}), no audio"
             or SOURCES.get(catalogue.sources[i], catalogue.sources[i]),
             "known label": catalogue.known[i]}
            for r, (i, score) in enumerate(ranked)
            if r < SHOWN or catalogue.sources[i] == "yours"]
    return pd.DataFrame(rows, columns=RANKING_COLUMNS)


@gpu
def search_songs(words: str, session: Session):
    """Every browsable song ranked by emotion words (query by tag), by the score the Song tab
    shows (calibrated, and agreeing with each song's valence/arousal). Returns a table."""
    pipe = MODELS.get(session.model)
    catalogue = browsable(session)
    scores = pipe.rank_songs(parse_words(words or ""), catalogue.embeddings,
                             np.stack([catalogue.valence, catalogue.arousal], axis=1))
    return ranking_frame(catalogue, catalogue.rank(scores))


@gpu
def similar_songs(song_name: str | None, session: Session):
    """Songs most like one of yours, or like a song of your library named by its path
    (cosine of song embeddings). Returns a table."""
    catalogue = browsable(session)

    def rows(name: str, in_library: bool) -> list[int]:
        return [i for i, (n, source) in enumerate(zip(catalogue.names, catalogue.sources))
                if n == name and (source == "library") == in_library]

    if song_name and song_name not in session.songs and (shelved := rows(song_name, True)):
        return ranking_frame(catalogue, catalogue.similar(shelved[0]))
    session.song(song_name or None)  # says so when there is no such song
    name = song_name or session.current
    entry = session.songs[name]
    if entry.source == "example":
        name = entry.song.name  # examples are in the catalogue under their titles
    return ranking_frame(catalogue, catalogue.similar(max(rows(name, False))))


def build(session: gr.State):
    """The map and search section; returns the 'songs like' dropdown (refreshed by the app)."""
    with gr.Row():
        colour_in = gr.Radio(COLOUR_BY, value="predicted emotion", label="Colour by",
                             min_width=300)
        map_vocab = gr.Dropdown(vocabulary_choices(), value="gems", label="Emotion words",
                                min_width=240)
        with gr.Column(min_width=240):  # a checkbox alone ignores min_width
            labels_in = gr.Checkbox(False, label="Show the emotion words on the map")
    map_error = error_box("map-error")
    map_info = gr.Markdown(elem_id="map-info")
    map_plot = gr.Plot(label="Map", elem_id="map-plot", show_label=False)
    with gr.Row(equal_height=True):
        query_in = gr.Textbox("calm, peaceful", label="Find songs that feel...", scale=3)
        search_btn = gr.Button("Search", variant="primary")
    search_error = error_box("search-error")
    search_out = gr.Dataframe(pd.DataFrame(columns=RANKING_COLUMNS), label="Best matches",
                              interactive=False, elem_id="search-table", wrap=True,
                              column_widths=RANKING_WIDTHS)
    with gr.Row(equal_height=True):
        like_song = gr.Dropdown([], label="Songs like this one of yours (or type a path of "
                                "your library)",
                                allow_custom_value=True, scale=3)
        like_btn = gr.Button("Find similar songs")
    like_error = error_box("similar-error")
    like_out = gr.Dataframe(pd.DataFrame(columns=RANKING_COLUMNS), label="Most similar songs",
                            interactive=False, elem_id="similar-table", wrap=True,
                            column_widths=RANKING_WIDTHS)
    map_inputs = [map_vocab, colour_in, labels_in, session]
    map_event = dict(fn=embedding_map, inputs=map_inputs, outputs=[map_plot, map_info],
                     box=map_error, concurrency_limit=2, concurrency_id="map")
    bind([colour_in.change, map_vocab.change, labels_in.change], api_name="embedding_map",
         **map_event)
    bind([search_btn.click, query_in.submit], search_songs, [query_in, session], [search_out],
         search_error, api_name="search", concurrency_limit=2, concurrency_id="search")
    bind([like_btn.click], similar_songs, [like_song, session], [like_out], like_error,
         api_name="similar", concurrency_limit=2, concurrency_id="search")
    journey.build(session)  # mood journeys (web/journey.py)
    return like_song, map_event
