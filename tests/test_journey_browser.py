"""A journey in a real browser (Debian chromium, Playwright) on the real app over a real indexed
library: two clicks on the plane set the start and the end, the journey is listed and drawn,
and when a song ends the next one plays."""

from __future__ import annotations

import re

import pytest

from app_server import launched_app
from test_journey_app import N_CLIPS, library_file  # noqa: F401 - the fixture
from tools.screenshots import CHROMIUM, FLAGS, LONG, TABS, new_page, open_tab

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.is_file(),
                                 reason="needs Debian's chromium at /usr/bin/chromium "
                                        "(apt-get install chromium)")]

# the <audio> of Gradio's player, in a shadow root
MEDIA = """() => { for (const el of document.querySelectorAll('#journey-player *')) {
    const audio = el.shadowRoot && el.shadowRoot.querySelector('audio');
    if (audio) return audio; } }"""


def click_plane(page, valence: float, arousal: float) -> None:
    """Click the journey plane at a point of valence/arousal (plotly's axes to pixels)."""
    box = page.locator("#journey-plane .js-plotly-plot").bounding_box()
    x, y = page.evaluate(
        """([v, a]) => { const layout = document.querySelector(
               '#journey-plane .js-plotly-plot')._fullLayout;
           return [layout.xaxis._offset + layout.xaxis.d2p(v),
                   layout.yaxis._offset + layout.yaxis.d2p(a)]; }""", [valence, arousal])
    page.mouse.click(box["x"] + x, box["y"] + y)


def test_clicks_set_the_ends_and_the_journey_plays_on(library_file):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright
    with launched_app({"EMOALIGN_LIBRARY": str(library_file), "EMOALIGN_PRELOAD": "0"}) as url, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=FLAGS + ["--autoplay-policy=no-user-gesture-required"])
        context, page = new_page(browser, url, "desktop", "light")
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.get_by_role("tab", name=TABS["map"], exact=True).wait_for(timeout=LONG)
        open_tab(page, TABS["map"])
        page.locator("#journey-plane").scroll_into_view_if_needed()
        page.wait_for_function("() => document.querySelector('#journey-plane .js-plotly-plot')"
                               " && document.querySelector('#journey-plane .js-plotly-plot')"
                               "._fullLayout", timeout=LONG)
        click_plane(page, -0.7, -0.7)
        start = page.locator("#journey-from textarea, #journey-from input").first
        expect(start).to_have_value(re.compile(r"^-0\.[67]\d,-0\.[67]\d$"), timeout=10_000)
        page.locator("#journey-click").get_by_label("end", exact=True).check()
        click_plane(page, 0.7, 0.7)
        end = page.locator("#journey-to textarea, #journey-to input").first
        expect(end).to_have_value(re.compile(r"^0\.[67]\d,0\.[67]\d$"), timeout=10_000)
        expect(start).to_have_value(re.compile(r"^-0\.[67]\d,-0\.[67]\d$"))  # left alone
        page.get_by_role("button", name="Make the journey").click()
        playing = page.locator("#journey-playing")
        expect(playing).to_contain_text(f"Playing 1 of {N_CLIPS}", timeout=LONG)
        first = playing.inner_text().split(": ", 1)[1].strip()
        assert first.startswith("album ") and "/tmp" not in first  # a library path, relative
        expect(page.locator("#journey-table")).to_contain_text(first)
        # the end of a song plays the next one (Gradio's `stop` event: the media ended)
        page.wait_for_function(f"() => {{ const a = ({MEDIA})(); return a && a.duration > 5; }}",
                               timeout=LONG)
        page.evaluate(f"() => {{ const a = ({MEDIA})(); a.currentTime = a.duration - 0.4;"
                      f" a.play(); }}")
        expect(playing).to_contain_text(f"Playing 2 of {N_CLIPS}", timeout=60_000)
        # the plane drawn again with the journey still takes clicks
        page.locator("#journey-click").get_by_label("start", exact=True).check()
        click_plane(page, 0.5, -0.5)
        expect(start).to_have_value(re.compile(r"^0\.[45]\d,-0\.[45]\d$"), timeout=10_000)
        context.close()
        browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"
