"""Built-in emotion vocabularies (data in assets/labels/*.json) and parsing of user words."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from ..paths import ASSETS

LABELS_DIR = ASSETS / "labels"
DEFAULT_LABELS = "moods"  # the card's and `predict`'s vocabulary: plain mood words
MAX_WORDS = 200  # more than this is almost surely a pasted document, not a vocabulary
MAX_WORD_CHARS = 80
MAX_TEXT_CHARS = MAX_WORDS * (MAX_WORD_CHARS + 2)  # longer input is refused before parsing
# Control characters, and invisible ones that reorder or hide text, are dropped from words.
# MTG-Jamendo's theme and use tags: what music is for, not how it feels. Scored like any label,
# but never offered as "feels like".
THEME_TAGS = frozenset({"action", "adventure", "advertising", "background", "children",
                        "christmas", "commercial", "corporate", "documentary", "drama", "film",
                        "game", "holiday", "movie", "nature", "party", "retro", "soundscape",
                        "space", "sport", "summer", "trailer", "travel", "ballad", "fast",
                        "slow", "melodic", "deep"})
INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


@dataclass(frozen=True)
class LabelSet:
    name: str  # registry key, e.g. "gems"
    title: str  # for people, e.g. "Emotify GEMS-9"
    labels: tuple[str, ...]  # the strings that are embedded
    source: str = ""
    names: tuple[str, ...] = field(default=())  # short display names (quadrants: Q1..Q4)
    # label -> the words that say what it means (GEMS-9's checklist adjectives); see text.py
    descriptions: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)


def is_emotion(label: str) -> bool:
    """False for MTG's theme/use tags (film, christmas, ...), which describe a use, not a feeling."""
    return label not in THEME_TAGS


def available_label_sets() -> list[str]:
    return ["moods", "gems", "mtg", "cal500", "quadrants", "allmusic"]


@lru_cache(maxsize=None)
def load_label_set(name: str) -> LabelSet:
    """A built-in vocabulary by name; "all" is the union of all of them (first occurrence wins)."""
    if name == "all":
        labels = dict.fromkeys(l for n in available_label_sets() for l in load_label_set(n).labels)
        return LabelSet("all", "All built-in labels", tuple(labels), "union of the built-in sets")
    if name not in available_label_sets():
        raise ValueError(f"Unknown label set {name!r}; available: "
                         f"{', '.join(available_label_sets() + ['all'])}")
    data = json.loads((LABELS_DIR / f"{name}.json").read_text())
    descriptions = {label: tuple(words) for label, words in data.get("descriptions", {}).items()}
    return LabelSet(name, data["title"], tuple(data["labels"]), data.get("source", ""),
                    tuple(data.get("names", ())), descriptions)


@lru_cache(maxsize=None)
def label_descriptions() -> dict[str, tuple[str, ...]]:
    """{built-in label, lower-cased: its describing words} over every built-in vocabulary.
    A label's meaning is then its own embedding averaged with its words' (text.py): a bare
    "amazement" or "solemnity" says less to the text model than GEMS's own adjectives do
    (held-out GEMS F1 in results/generalisation.md: `percentile` vs `percentile-descriptions`)."""
    return {label.lower(): words for name in available_label_sets()
            for label, words in load_label_set(name).descriptions.items()}


def plain_name(label: str) -> str:
    """A label with its plain meaning, for people: 'amazement (filled with wonder, dazzled)'
    for a label with describing words (GEMS-9), the label itself otherwise."""
    words = label_descriptions().get(label.lower())
    return f"{label} ({', '.join(words[:2])})" if words else label


def label_meanings(labels: list[str]) -> str:
    """The describing words of `labels` as one string: what identifies the meaning their scores
    were made with (a library compares it to tell stale stored scores)."""
    meanings = label_descriptions()
    return json.dumps({w: meanings[w.lower()] for w in labels if w.lower() in meanings})


def parse_words(text: str | list[str], max_words: int | None = MAX_WORDS) -> list[str]:
    """Split user input into distinct words or phrases.

    Separators are commas, semicolons and new lines; a phrase in double quotes keeps its
    commas ("calming, soothing"). Whitespace is collapsed, case is kept, duplicates dropped.
    Raises ValueError with a user-facing message for empty lists, or lists longer than
    `max_words` (None: no cap).
    """
    if isinstance(text, str):
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"The text is {len(text):,} characters long; at most {MAX_WORDS} "
                             f"words of at most {MAX_WORD_CHARS} characters, please.")
        text = unicodedata.normalize("NFKC", text)
        if len(text) > MAX_TEXT_CHARS:  # NFKC spells some characters out (U+FDFA: 18 of them)
            raise ValueError(f"The text is {len(text):,} characters long once normalised; at "
                             f"most {MAX_WORDS} words of at most {MAX_WORD_CHARS} characters, "
                             f"please.")
        rows = next(csv.reader(io.StringIO(re.sub(r"[;\n\r]+", ",", text)),
                               skipinitialspace=True), [])
    else:
        rows = list(text)
    words = []
    for word in rows:
        word = INVISIBLE.sub(" ", unicodedata.normalize("NFKC", str(word)))
        word = " ".join(word.split()).strip(" \"'")
        if not word or not any(ch.isalnum() for ch in word):
            continue
        if len(word) > MAX_WORD_CHARS:
            raise ValueError(f"'{word[:30]}...' is {len(word)} characters long; words or short "
                             f"phrases of at most {MAX_WORD_CHARS} characters, please.")
        words.append(word)
    words = list(dict.fromkeys(words))
    if not words:
        raise ValueError("Type at least one emotion word, e.g. 'wistful, furious, serene'.")
    if max_words is not None and len(words) > max_words:
        raise ValueError(f"{len(words)} words is too many; at most {max_words} at once.")
    return words
