"""A real browser on the real app: Debian chromium driven by Playwright.

Asserts what a visitor must see: the map of the reference corpus before any upload, the
answer card's words and the song's point on the valence/arousal plane, an error confined to
its widget, the answer above the fold on a 390-px phone; then tours every tab at desktop and
phone widths in light and dark mode, writing screenshots to build/screenshots/ (git-ignored;
`python -m tools.screenshots` refreshes docs/screenshots). Needs /usr/bin/chromium.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app_server import REPO, launched_app
from tools.screenshots import (CHROMIUM, FLAGS, LONG, TABS, VIEWPORTS, capture_all, new_page,
                               open_tab)

SHOTS = REPO / "build" / "screenshots"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.is_file(),
                                 reason="needs Debian's chromium at /usr/bin/chromium "
                                        "(apt-get install chromium)")]


@pytest.fixture(scope="module")
def app_url():
    with launched_app() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


def page_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def plot_points(page, elem_id: str) -> int:
    """Points plotly drew in a figure (its calcdata: one entry per point of each trace), once
    plotly has drawn it (the figure's info text can arrive a moment before the plot)."""
    plot = f"document.querySelector('#{elem_id} .js-plotly-plot')"
    page.wait_for_function(f"() => {plot} && {plot}.calcdata", timeout=LONG)
    return page.evaluate(f"() => {plot}.calcdata.reduce((n, trace) => n + trace.length, 0)")


# the <audio> of Gradio's waveform player, in a shadow root
PLAYER_MEDIA = """() => { for (const el of document.querySelectorAll('#song-audio *')) {
    const audio = el.shadowRoot && el.shadowRoot.querySelector('audio');
    if (audio) return audio; } }"""


def timeline_axes(page) -> dict:
    """The timeline's plot area on the page (px) and its segment edges (s)."""
    return page.evaluate("""() => {
        const plot = document.querySelector('#timeline .js-plotly-plot');
        const box = plot.getBoundingClientRect(), xa = plot._fullLayout.xaxis,
              ya = plot._fullLayout.yaxis;
        return {left: box.left + xa._offset, width: xa._length, top: box.top + ya._offset,
                height: ya._length, edges: Array.from(plot._fullData[0].x)}; }""")


def check_timeline_seeks(page) -> None:
    """Clicking a timeline cell moves the player to the segment's start, in the browser alone
    (no request, so nothing is analysed again), and outlines the segment under the playhead."""
    from playwright.sync_api import expect

    page.wait_for_function(f"() => Number.isFinite(({PLAYER_MEDIA})().duration)")
    page.locator("#timeline").scroll_into_view_if_needed()
    axes = timeline_axes(page)
    edges, column = axes["edges"], len(axes["edges"]) // 2
    requests: list[str] = []
    listen = lambda request: requests.append(request.url)  # noqa: E731
    page.on("request", listen)
    middle = (edges[column] + edges[column + 1]) / 2 / edges[-1]
    page.mouse.click(axes["left"] + axes["width"] * middle, axes["top"] + axes["height"] / 2)
    page.wait_for_function(f"() => ({PLAYER_MEDIA})().currentTime === {edges[column]}")
    expect(page.locator("#song-audio #time")).to_have_text(
        f"{int(edges[column]) // 60}:{int(edges[column]) % 60:02d}")
    outline = page.locator("#timeline .emo-now")
    expect(outline).to_be_visible()
    box = outline.bounding_box()
    assert abs(box["x"] - (axes["left"] + axes["width"] * edges[column] / edges[-1])) < 3
    page.remove_listener("request", listen)
    assert not requests, f"a timeline click reached the server: {requests}"


def test_what_a_visitor_sees(app_url, browser, long_song, tmp_path):
    from playwright.sync_api import expect

    from emoalign.answer.calibration import reference_path
    from emoalign.web.examples import load_examples
    from emoalign.answer.reference import load_reference_once

    path = reference_path("musicnn")
    n_reference = len(load_reference_once(str(path), path.stat().st_mtime_ns).corpus)
    examples = load_examples()
    context, page = new_page(browser, app_url, "desktop", "light")
    errors = page_errors(page)
    # the map is alive before any upload: the reference corpus and the examples
    open_tab(page, TABS["map"])
    expect(page.locator("#map-info")).to_contain_text("0 yours", timeout=LONG)
    assert plot_points(page, "map-plot") == n_reference + len(examples)
    # a real clip: the answer card names three emotions, the VA plane shows its point
    open_tab(page, TABS["song"])
    page.locator("#song-audio input[type=file]").set_input_files(str(long_song))
    hero = page.locator("#hero-card")
    expect(hero).to_contain_text(long_song.name, timeout=LONG)
    expect(hero.locator(".emo-feels b")).to_have_count(3)
    expect(hero.locator(".emo-fill")).to_have_count(9)  # GEMS-9
    expect(page.locator("#va-plane .scatterlayer .point").last).to_be_visible()
    expect(page.locator("#timeline .js-plotly-plot")).to_be_visible()
    check_timeline_seeks(page)
    # a bad file: one message at the song widget, no path; the earlier answer stays
    bad = tmp_path / "notes.ogg"
    bad.write_text("this is not audio\n")
    page.locator("#song-audio button[aria-label='Clear']").click()
    page.locator("#song-audio input[type=file]").set_input_files(str(bad))
    expect(page.locator("#song-error")).to_contain_text("readable", timeout=LONG)
    assert "/tmp" not in page.locator("#song-error").inner_text()
    expect(hero).to_contain_text(long_song.name)
    assert page.locator(".toast-body.error").count() == 0
    assert page.locator("#hero .error, #timeline .error, #va-plane .error").count() == 0
    # a 30-s example fits the waveform: it spans the timeline's plot area (one time axis)
    page.get_by_role("button", name=examples[0].title).first.click()
    expect(hero).to_contain_text(examples[0].title, timeout=LONG)
    page.wait_for_function(f"""() => {{ const x = document.querySelector(
        '#timeline .js-plotly-plot')._fullData[0].x;
        return Math.abs(({PLAYER_MEDIA})().duration - x[x.length - 1]) < 1.5; }}""")
    page.wait_for_timeout(1000)  # the script aligns the waveform on its next tick
    axes, wave = timeline_axes(page), page.locator("#song-audio #waveform").bounding_box()
    assert abs(wave["x"] - axes["left"]) < 3 and abs(wave["width"] - axes["width"]) < 3
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_phone_answer_above_the_fold(app_url, browser):
    from playwright.sync_api import expect

    from emoalign.web.examples import load_examples
    context, page = new_page(browser, app_url, "phone", "dark")
    for name in TABS.values():  # every tab is reachable
        open_tab(page, name)
    open_tab(page, TABS["song"])
    example = load_examples()[0].title
    page.get_by_role("button", name=example).first.click()
    expect(page.locator("#hero-card")).to_contain_text(example, timeout=LONG)
    page.evaluate("window.scrollTo(0, 0)")
    box = page.locator("#hero-card .emo-feels").bounding_box()
    assert box["y"] + box["height"] < VIEWPORTS["phone"]["height"]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORTS["phone"]["width"] + 2  # no sideways scrolling
    context.close()


def test_screenshots_of_every_tab(app_url, browser):
    from emoalign.web.examples import load_examples
    shots = capture_all(browser, app_url, SHOTS, load_examples()[0].title)
    expected = {f"{tab}-{v}-{t}.png" for tab in TABS for v in VIEWPORTS for t in ("light", "dark")}
    assert expected <= {p.name for p in shots}
    assert all(p.stat().st_size > 10_000 for p in shots)
    assert not (Path(REPO) / "docs" / "screenshots" / "song-desktop-light.png").is_symlink()
