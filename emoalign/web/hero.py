"""The answer card of the Song tab as HTML: "Feels like: w1, w2, w3", a strength bar per
emotion (the score, one-line meaning, the emotion's fixed colour), and the valence/arousal
quadrant in words ("neutral / mixed" near the centre). Audio the music check hears as not
music gets a plain notice instead of feelings. Pure string building; every text is escaped."""

from __future__ import annotations

from html import escape

from ..answer.results import Prediction
from ..audio.load import SEGMENT_SECONDS
from ..text.labels import is_emotion
from .colours import QUADRANT_COLOURS, emotion_colour
from .plots import clock

FEELS_LIKE = 3  # words named in the headline
MAX_BARS = 9  # bars in the card; the rest are in Details


def hero_html(prediction: Prediction, display: dict[str, str] | None = None,
              notices: tuple[str, ...] = ()) -> str:
    """The card for one song's prediction; `display` renames labels (quadrants: 'Q1 ...')."""
    display = display or {}
    song, scores, va = prediction.song, prediction.scores, prediction.va
    ranking = [r for r in scores.ranking() if is_emotion(r["word"])] or scores.ranking()
    feels = ", ".join(f'<b style="color:{emotion_colour(r["word"])}">'
                      f'{escape(plain(r["word"], display))}</b>' for r in ranking[:FEELS_LIKE])
    bars = "".join(bar_row(r, display, scores.calibrated) for r in ranking[:MAX_BARS])
    more = len(scores.ranking()) - min(len(ranking), MAX_BARS)
    rest = (f'<p class="emo-more">{more} more in <i>Details</i> below.</p>' if more > 0 else "")
    quadrant = (f'<span class="emo-quadrant" style="border-color:{QUADRANT_COLOURS[va.quadrant]}">'
                f'{escape(va.quadrant_words.capitalize())}</span>')
    sayings = "".join(f'<p class="emo-notice">{escape(n)}</p>'
                      for n in [*prediction.notices, *notices])
    head = (f'<div class="emo-hero" id="hero-card">'
            f'<p class="emo-song">{escape(song.name)} · {clock(song.duration_s)} · '
            f'{song.n_segments} segment(s) of {SEGMENT_SECONDS:.0f} s</p>')
    if not prediction.is_music:  # no confident card for a tone, noise or speech
        return (f'{head}<h2 class="emo-feels">Not music, as far as the model can tell</h2>'
                f'<p class="emo-va">{quadrant}</p>{sayings}'
                f'<p class="emo-more">The scores are still in <i>Details</i> below.</p></div>')
    where = (f'quadrant {va.quadrant}' if va.quadrant else
             "too near the centre to name a quadrant")
    return (f'{head}<h2 class="emo-feels">Feels like: {feels}</h2>'
            f'<p class="emo-va">{quadrant} valence {va.valence:+.2f} '
            f'({"positive" if va.valence >= 0 else "negative"}), arousal {va.arousal:+.2f} '
            f'({"energetic" if va.arousal >= 0 else "calm"}), {where}'
            f'{"" if va.calibrated else " (uncalibrated)"}</p>'
            f'<ul class="emo-bars">{bars}</ul>{rest}{sayings}</div>')


def plain(word: str, display: dict[str, str]) -> str:
    """The word as people read it (quadrant labels without their Q number)."""
    shown = display.get(word, word)
    return word if shown.startswith("Q") and shown.endswith(word) else shown


def bar_row(row: dict, display: dict[str, str], calibrated: bool) -> str:
    width = max(0.0, min(1.0, row["score"] if calibrated else (row["score"] + 1) / 2))
    return (f'<li title="{escape(row["meaning"])}"><span class="emo-word">'
            f'{escape(plain(row["word"], display))}</span>'
            f'<span class="emo-track"><span class="emo-fill" style="width:{100 * width:.0f}%;'
            f'background:{emotion_colour(row["word"])}"></span></span>'
            f'<span class="emo-value">{row["score"]:.2f}</span>'
            f'<span class="emo-meaning">{escape(row["meaning"])}</span></li>')


def empty_hero(message: str = "Pick an example or upload a song: its emotions appear here.") -> str:
    return f'<div class="emo-hero emo-empty" id="hero-card"><p>{escape(message)}</p></div>'
