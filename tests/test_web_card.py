"""The Song tab's answer card and the local error handling, on a real pipeline's prediction
(a bundled example, the real model): plain words, escaped names, one ranking, and errors that stay put."""

from __future__ import annotations

import re

import pytest

from conftest import CALM_SONG

gr = pytest.importorskip("gradio")


def test_card_names_the_best_emotions_in_plain_words(pipeline):
    from emoalign.web.hero import hero_html
    from emoalign.text.labels import load_label_set
    prediction = pipeline.predict(CALM_SONG, list(load_label_set("mtg").labels))
    html = hero_html(prediction)
    feels = re.findall(r">([^<]+)</b>", re.search(r"Feels like: (.*?)</h2>", html).group(1))
    assert len(feels) == 3
    assert not {"film", "christmas", "trailer", "movie"} & set(feels)  # no theme tags
    assert html.count('class="emo-fill"') == 9 and "more in <i>Details</i>" in html
    assert prediction.va.quadrant_words.capitalize() in html


def test_card_escapes_the_song_name(pipeline):
    import dataclasses
    from emoalign.web.hero import hero_html
    prediction = pipeline.predict(CALM_SONG)
    prediction.song = dataclasses.replace(prediction.song, name="<img src=x onerror=alert(1)>")
    assert "<img" not in hero_html(prediction)


def test_emotions_keep_one_colour():
    from emoalign.web.colours import emotion_colour
    assert emotion_colour("Tenderness") == emotion_colour("tenderness") == "#ff9da7"
    assert emotion_colour("wistful") == emotion_colour(" wistful ")


def test_errors_stay_in_their_box_and_other_outputs_are_kept():
    from emoalign.web.errors import local_errors

    def fails(path):
        raise ValueError(f"cannot read {path}/song.ogg")

    *kept, box = local_errors(fails, 3)("/tmp/secret")
    assert all(isinstance(k, dict) and k.get("__type__") == "update" and len(k) == 1
               for k in kept) or all(k == gr.skip() for k in kept)
    assert box["visible"] is True and "/tmp" not in box["value"] and "song.ogg" in box["value"]
    *_, box = local_errors(lambda: (1, 2, 3), 3)()
    assert box["visible"] is False
