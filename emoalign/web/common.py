"""Small helpers the tabs share: the ZeroGPU decorator, session ids, vocabularies, the status
line, and the song dropdowns. No science: they only arrange what the core returns."""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from ..answer.results import EmotionScores
from ..text.labels import load_label_set, plain_name
from ..text.labels import DEFAULT_LABELS
from .config import DOWNLOADS, EXAMPLES, MODELS, TRAINING, VOCABULARIES, spaces
from .session import Session


def gpu(fn: Callable) -> Callable:
    """Run `fn` on a GPU slice on ZeroGPU Spaces; unchanged where `spaces` is absent."""
    return spaces.GPU(duration=120)(fn) if spaces is not None else fn


def session_id(request: gr.Request | None) -> str | None:
    return getattr(request, "session_hash", None) if request is not None else None


def end_session(request: gr.Request) -> None:
    """The tab closed or the client went away: delete its downloads, stop its training."""
    DOWNLOADS.remove(session_id(request))
    TRAINING.stop(session_id(request))


def vocabulary_choices() -> list[tuple[str, str]]:
    return [(load_label_set(name).title, name) for name in VOCABULARIES]


def vocabulary(name: str) -> tuple[list[str], dict[str, str]]:
    """The label strings of a vocabulary and their display names (quadrants: 'Q1 happy, ...';
    GEMS-9 with their plain meaning: 'amazement (filled with wonder, dazzled)')."""
    label_set = load_label_set(name or DEFAULT_LABELS)
    names = label_set.names or ("",) * len(label_set.labels)
    return list(label_set.labels), {label: f"{short} {plain_name(label)}".strip()
                                    for label, short in zip(label_set.labels, names)}


def voting_segments(scores: EmotionScores) -> int:
    """How many segments voted (each casts `top_k` votes; silent ones do not vote)."""
    return int(scores.vote_counts.sum()) // scores.top_k


def score_meaning(scores: EmotionScores) -> str:
    """One plain sentence on what the top score means."""
    best = scores.ranking()[0]
    if not scores.calibrated:
        return f"Scores are {best['meaning']}."
    return f"A score of {best['score']:.2f} means: {best['meaning']}."


def status_text(session: Session) -> str:
    state = ("ready" if MODELS.loaded(session.model)
             else "loads on first use (a few seconds; the first song takes longer)")
    gpu_note = " · ZeroGPU" if spaces is not None else ""
    return (f"**Model:** {session.model.describe()} — {state}{gpu_note} · "
            f"{len(session.songs)} song(s) analysed in this session, {len(EXAMPLES)} bundled "
            f"example(s)")


def song_choices(session: Session):
    names = list(session.songs)
    return (gr.update(choices=names, value=session.current),
            gr.update(choices=names, value=session.current))


def library_notice(session: Session) -> tuple[str, ...]:
    """What the library limit removed when the current song came in (said, never silent)."""
    if not session.dropped:
        return ()
    names = ", ".join(session.dropped)  # shown as escaped HTML
    return (f"Your library keeps the newest {session.limit} songs; the oldest "
            f"({names}) was removed to make room.",)


def whole_number(value, low: int, high: int, what: str) -> int:
    """`value` (a slider's, or anything a raw API call sends: NaN, "x", 1e300) as an integer
    from `low` to `high`; gr.Error in words otherwise."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not (low <= number <= high) or number != int(number):  # NaN fails the first test
        raise gr.Error(f"{what} must be a whole number from {low} to {high}.")
    return int(number)
