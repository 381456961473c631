"""Song tab: upload, record or pick an example, and read its emotions: the answer card, the
valence/arousal plane, the timeline under the player, and the details (one table)."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from . import plots
from ..answer.results import Prediction
from ..audio.load import SEGMENT_SECONDS
from ..digest import file_digest
from ..safety import escape_markdown
from ..text.labels import load_label_set
from ..text.labels import DEFAULT_LABELS
from .common import (gpu, library_notice, score_meaning, session_id, vocabulary,
                     vocabulary_choices, voting_segments, whole_number)
from .config import (ANALYSES, DOWNLOADS, EXAMPLE_BY_DIGEST, EXAMPLES, MODELS, SONG_SECONDS_CAP)
from .errors import bind, error_box, user_message
from .hero import empty_hero, hero_html
from .session import Entry, Session, write_downloads

SCORE_COLUMNS = ["rank", "emotion", "score", "raw cosine", "segment votes"]
N_OUTPUTS = 6  # hero, VA plane, timeline, table, files, details


@gpu
def analyse(audio: str | None, vocabulary_name: str, top_k: int, trim: bool, session: Session,
            request: gr.Request = None, progress=gr.Progress()):
    """Analyse a song (file path) and score it on a built-in vocabulary.

    Returns: the session, the answer card (HTML), the valence/arousal plane, the per-segment
    timeline, the score table, the scores as CSV and JSON files, and the details (markdown).
    The analysed song is kept even when showing it fails.
    """
    if not audio:
        raise gr.Error("Upload or record a song first, or pick a bundled example.")
    path = Path(audio)
    digest = file_digest(path)
    example = EXAMPLE_BY_DIGEST.get(digest)
    name = example.title if example else path.name
    song, digest = ANALYSES.analyse(session.model, path, name, trim, progress, digest,
                                    owner=session_id(request))
    session = session.with_song(Entry(song, digest, "example" if example else "yours",
                                      example.emotions if example else (),
                                      None if example else str(path)))
    try:
        shown = show_song(session, vocabulary_name, top_k, session_id(request),
                          library_notice(session))
    except Exception as error:  # the song stays in the library; say what failed
        message = user_message(error, "show_song")
        gr.Warning(message)
        return (session, empty_hero(f"{song.name}: analysed and kept in your library, but it "
                                    f"could not be shown: {message}"),
                *[gr.skip()] * (N_OUTPUTS - 1))
    return (session, *shown)


def analyse_on_change(audio, vocabulary_name, top_k, trim, session, request: gr.Request = None,
                      progress=gr.Progress()):
    """Upload, recording or example: analyse at once; clearing the input does nothing."""
    if not audio:
        return [gr.skip()] * (N_OUTPUTS + 1)
    return analyse(audio, vocabulary_name, top_k, trim, session, request, progress)


def show_song(session: Session, vocabulary_name: str, top_k: int, session_key: str | None = None,
              notices: tuple[str, ...] = ()):
    song = session.song()
    pipe = MODELS.get(session.model)
    labels, display = vocabulary(vocabulary_name)
    prediction = pipe.predict(song, labels, top_k=whole_number(top_k, 1, 10, "Top k"))
    va = prediction.va
    timeline = plots.timeline_heatmap(
        song.segment_starts, [display[w] for w in prediction.scores.words],
        prediction.scores.segment_scores, segment_seconds=SEGMENT_SECONDS,
        calibrated=prediction.scores.calibrated, duration=song.duration_s,
        title=f"Over time ({load_label_set(vocabulary_name).title})")
    plane = plots.va_plane(va.valence, va.arousal, va.segments, song.name, va.quadrant)
    files = write_downloads(prediction, vocabulary_name, DOWNLOADS.fresh(session_key))
    return (hero_html(prediction, display, notices), plane, timeline,
            scores_frame(prediction, display), files, details(prediction, session))


def rescore(vocabulary_name: str, top_k: int, session: Session, request: gr.Request = None):
    """Score the current song on another vocabulary or top-k (no audio recomputation)."""
    if not session.songs:
        return [gr.skip()] * N_OUTPUTS
    return show_song(session, vocabulary_name, top_k, session_id(request))


def scores_frame(prediction: Prediction, display: dict[str, str]) -> pd.DataFrame:
    scores = prediction.scores
    rows = [{"rank": rank, "emotion": display.get(r["word"], r["word"]), "score": r["score"],
             "raw cosine": r["raw"], "segment votes": f"{r['votes']} / {voting_segments(scores)}"}
            for rank, r in enumerate(scores.ranking(), 1)]
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def details(prediction: Prediction, session: Session) -> str:
    """Model and encoder details for the curious (markdown)."""
    song, scores = prediction.song, prediction.scores
    lines = [f"*{score_meaning(scores)}* Segment votes: each 10-s segment votes for its "
             f"{scores.top_k} best words. The raw cosine is the similarity in the shared "
             f"embedding space before calibration.",
             "", f"Model: {session.model.describe()}; valence/arousal by {prediction.va.method}."]
    if prediction.music_probability is not None:
        lines += ["", f"Music check: {100 * prediction.music_probability:.0f}% sure this is music "
                      f"of the kinds the model knows."]
    if song.tags:
        tags = ", ".join(f"{escape_markdown(t.split(':')[-1])} ({p:.2f})"
                         for t, p in list(song.tags.items())[:5])
        lines += ["", f"Sound tags the {song.encoder} encoder hears (MagnaTagATune): {tags}"]
    return "\n".join(lines)


def build(session: gr.State):
    """The tab's components and events; returns the song input's events (to chain on)."""
    with gr.Row(equal_height=False, elem_id="song-answer"):
        with gr.Column(scale=3, min_width=300):
            hero_out = gr.HTML(empty_hero(), elem_id="hero")
        with gr.Column(scale=2, min_width=300):
            va_out = gr.Plot(plots.empty_figure("Its place on the valence/arousal plane",
                                                height=140),
                             label="Valence / arousal", elem_id="va-plane", show_label=False)
    audio_in = gr.Audio(sources=["upload", "microphone"], type="filepath",
                        label="Song (upload or record)", elem_id="song-audio")
    song_error = error_box("song-error")
    timeline_out = gr.Plot(plots.empty_figure("Emotions over time, under the player",
                                              height=120),
                           show_label=False, label="Timeline (10-s segments)",
                           elem_id="timeline")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            if EXAMPLES:  # loading one into the player analyses it (change event)
                gr.Examples([[str(e.path)] for e in EXAMPLES], inputs=[audio_in],
                            example_labels=[e.title for e in EXAMPLES], label="Examples")
        with gr.Column(scale=2, min_width=300):
            vocabulary_in = gr.Dropdown(vocabulary_choices(), value=DEFAULT_LABELS, label="Vocabulary",
                                        info="the emotion words the song is scored on")
            analyse_btn = gr.Button("Analyse", variant="primary")
    with gr.Accordion("Details", open=False, elem_id="song-details"):
        details_out = gr.Markdown(elem_id="details")
        with gr.Row():
            top_k_in = gr.Slider(1, 10, value=3, step=1, label="Top k",
                                 info="labels each segment votes for (the votes column)")
            trim_in = gr.Checkbox(False, label=f"Analyse only the first "
                                               f"{SONG_SECONDS_CAP / 60:.0f} min of longer songs")
        table_out = gr.Dataframe(pd.DataFrame(columns=SCORE_COLUMNS), label="Every emotion",
                                 interactive=False, elem_id="scores-table",
                                 column_widths=[60, 200, 90, 110, 130])  # px: phones scroll
        files_out = gr.File(label="Download scores (CSV, JSON)", file_count="multiple",
                            interactive=False)
    outputs = [hero_out, va_out, timeline_out, table_out, files_out, details_out]
    inputs = [audio_in, vocabulary_in, top_k_in, trim_in, session]
    limits = dict(concurrency_limit=1, concurrency_id="audio")
    clicked = bind([analyse_btn.click], analyse, inputs, [session, *outputs], song_error,
                   api_name="analyze", **limits)
    changed = bind([audio_in.change], analyse_on_change, inputs, [session, *outputs],
                   song_error, **limits)
    bind([vocabulary_in.change, top_k_in.release], rescore,
         [vocabulary_in, top_k_in, session], outputs, song_error, api_name="rescore",
         concurrency_limit=4, concurrency_id="rescore")
    return [clicked, changed]
