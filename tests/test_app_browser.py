"""A real browser on the real app: Debian chromium driven by Playwright.

Loads the page, uploads a real clip, waits for the results, visits every tab, and saves one
screenshot per tab to docs/screenshots/<tab>.png (shown in the README).
Needs /usr/bin/chromium (`apt-get install chromium`); skipped with that reason without it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app_server import REPO, launched_app

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]
SHOTS = REPO / "docs" / "screenshots"
LONG = 240_000  # ms: first analysis loads the models; the first UMAP compiles (numba)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.is_file(),
                                 reason="needs Debian's chromium at /usr/bin/chromium "
                                        "(apt-get install chromium)")]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    sync_api = pytest.importorskip("playwright.sync_api")
    profile = tmp_path_factory.mktemp("chromium-profile")  # a fresh --user-data-dir
    with launched_app() as url, sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            viewport={"width": 1400, "height": 1000})
        page = context.pages[0] if context.pages else context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url, wait_until="domcontentloaded")
        page.get_by_text("EmoAlign: music emotions in your own words").wait_for(timeout=60_000)
        yield page
        context.close()
        assert not errors, f"JavaScript errors on the page: {errors}"


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1000)  # let plotly finish drawing
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def no_error_toast(page) -> None:
    toasts = page.locator(".toast-body.error")
    assert toasts.count() == 0, toasts.first.inner_text()


def test_upload_a_clip_and_see_the_results_on_every_tab(page, clip):
    from playwright.sync_api import expect

    from app import load_examples

    examples = load_examples()
    if examples:  # a bundled example is analysed as soon as it is picked
        page.get_by_role("button", name=examples[0].title).first.click()
        expect(page.locator("#summary")).to_contain_text(examples[0].title, timeout=LONG)
        page.locator("#song-audio button[aria-label='Clear']").click()
    page.locator("#song-audio input[type=file]").set_input_files(str(clip("062")))
    expect(page.locator("#summary")).to_contain_text("062.ogg", timeout=LONG)  # on upload
    expect(page.locator("#summary")).to_contain_text("Feels like")
    expect(page.locator("#bars .js-plotly-plot .bars path")).to_have_count(9)  # GEMS-9
    expect(page.locator("#timeline .js-plotly-plot")).to_be_visible()
    expect(page.locator("#scores-table")).to_contain_text("tenderness")
    no_error_toast(page)
    shoot(page, "song")

    open_tab(page, "Your words")
    page.get_by_role("button", name="Score my words").click()
    expect(page.locator("#words-notes")).to_contain_text("word(s) on 062.ogg", timeout=LONG)
    expect(page.locator("#words-table")).to_contain_text("bittersweet")
    no_error_toast(page)
    shoot(page, "words")

    open_tab(page, "Label clusters")  # opening the tab clusters MTG + CAL500
    expect(page.locator("#cluster-counts")).to_contain_text("distinct labels", timeout=LONG)
    expect(page.locator("#cluster-graph .js-plotly-plot")).to_be_visible()
    no_error_toast(page)
    shoot(page, "clusters")

    open_tab(page, "Embedding map")
    page.get_by_role("button", name="Draw the map").click()
    expect(page.locator("#map-info")).to_contain_text("coloured by", timeout=LONG)
    expect(page.locator("#map-plot .js-plotly-plot")).to_be_visible()
    no_error_toast(page)
    shoot(page, "map")

    open_tab(page, "Search by emotion")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#search-table")).to_contain_text("062.ogg", timeout=LONG)
    page.get_by_role("button", name="Find similar songs").click()
    expect(page.locator("#similar-table")).to_contain_text("bundled example", timeout=LONG)
    no_error_toast(page)
    shoot(page, "search")

    open_tab(page, "Train (advanced)")
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_visible()
    shoot(page, "train")
