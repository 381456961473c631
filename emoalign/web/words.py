"""Your words tab: any words scored on the calibrated scale against an analysed song (no audio
work: the song's embeddings are kept), each with its nearest known labels and a plain warning
when it lies far from everything the model learnt. Independent of the Song tab's settings."""

from __future__ import annotations

import html

import gradio as gr
import pandas as pd

from . import plots
from ..audio.load import SEGMENT_SECONDS
from ..safety import escape_markdown
from ..text.labels import MAX_WORDS
from .common import score_meaning, voting_segments, whole_number
from .config import DEFAULT_WORDS, MODELS
from .errors import bind, error_box
from .session import Session

WORD_COLUMNS = ["rank", "word", "score", "raw cosine", "votes", "on the valence/arousal plane",
                "nearest built-in labels", "cluster of the nearest", "closeness to trained labels",
                "trust"]
WORDS_TOP_K = 3  # segment votes of this tab: fixed, whatever the Song tab's top k


def abbreviate(labels: list[str], n: int = 8) -> str:
    """Labels joined by '; ' (CAL500 labels hold commas), at most `n` of them."""
    return "; ".join(labels[:n]) + (f" (+{len(labels) - n} more)" if len(labels) > n else "")


def score_words(words: str, song_name: str | None, top_k: int, session: Session):
    """Score your own emotion words on an analysed song, and say where each word sits.

    Returns: bar chart, timeline, a table (score, segment votes, nearest built-in labels and
    their cluster, closeness to the trained labels) and notes with warnings for unfamiliar words.
    """
    top_k = whole_number(top_k or WORDS_TOP_K, 1, MAX_WORDS, "Top k")
    song = session.song(song_name or None)
    pipe = MODELS.get(session.model)
    scores = pipe.score(song, words or "", top_k=top_k)
    title = f"Your words on {html.escape(song.name)}"
    bars = plots.score_bars(scores.words, scores.song_scores, scores.vote_counts,
                            voting_segments(scores), title=title,
                            raw=scores.song_raw, calibrated=scores.calibrated)
    timeline = plots.timeline_heatmap(scores.segment_starts, scores.words, scores.segment_scores,
                                      segment_seconds=SEGMENT_SECONDS, duration=song.duration_s,
                                      calibrated=scores.calibrated, title="Over time",
                                      seeks=False)  # no player on this tab
    rows, warnings = [], []
    for rank, row in enumerate(scores.ranking(), 1):
        explanation = pipe.explain(row["word"], k=3)
        nearest = explanation.nearest
        rows.append({
            "rank": rank, "word": row["word"], "score": row["score"], "raw cosine": row["raw"],
            "votes": row["votes"],
            "on the valence/arousal plane": ("not an emotion word" if row["place"] is None else
                                             f"valence {row['place'][0]:+.1f}, arousal "
                                             f"{row['place'][1]:+.1f}"),
            "nearest built-in labels": "; ".join(f"{label} ({label_set}, {sim:.2f})"
                                                 for label, label_set, sim, _ in nearest),
            "cluster of the nearest": abbreviate(nearest[0][3]) if nearest else "",
            "closeness to trained labels": explanation.similarity_to_known,
            "trust": "ok" if explanation.familiar else "low",
        })
        if explanation.warning:
            warnings.append(f"- {escape_markdown(explanation.warning)}")
    best = ", ".join(escape_markdown(w) for w in scores.top)
    notes = (f"Scored **{len(scores.words)}** word(s) on **{escape_markdown(song.name)}** "
             f"(best: {best}). " + score_meaning(scores))
    if warnings:
        notes += "\n\n**Less trustworthy words:**\n" + "\n".join(warnings)
    return bars, timeline, pd.DataFrame(rows, columns=WORD_COLUMNS), notes


def build(session: gr.State):
    """The tab's components and events; returns the song dropdown (refreshed by the app)."""
    with gr.Row():
        words_song = gr.Dropdown([], label="Song", allow_custom_value=True,
                                 info="an analysed song (default: the latest)")
        words_in = gr.Textbox(DEFAULT_WORDS, lines=2, label="Emotion words or phrases",
                              info=f"comma- or line-separated; up to {MAX_WORDS}; quote a phrase "
                                   f"to keep its commas", scale=3, elem_id="words-in")
    top_k = gr.Number(WORDS_TOP_K, visible=False, precision=0)  # API parameter; fixed here
    words_btn = gr.Button("Score my words", variant="primary")
    words_error = error_box("words-error")
    words_notes = gr.Markdown(elem_id="words-notes")
    with gr.Row():
        words_bars = gr.Plot(plots.empty_figure("Your words, scored"), label="Scores",
                             show_label=False, elem_id="words-bars")
        words_timeline = gr.Plot(plots.empty_figure("Over time"), label="Timeline",
                                 show_label=False)
    words_table = gr.Dataframe(pd.DataFrame(columns=WORD_COLUMNS), label="Where each word sits",
                               # pixels, not shares: on a phone the table scrolls sideways
                               # instead of squeezing each word into a column of letters
                               column_widths=[60, 120, 80, 80, 70, 170, 300, 200, 110, 70],
                               interactive=False, wrap=True,
                               elem_id="words-table")
    bind([words_btn.click, words_in.submit], score_words, [words_in, words_song, top_k, session],
         [words_bars, words_timeline, words_table, words_notes], words_error,
         api_name="score_words", concurrency_limit=4, concurrency_id="words")
    return words_song
