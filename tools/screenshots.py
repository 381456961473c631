"""Screenshots of every tab at desktop and phone widths, in light and dark mode.

    python -m tools.screenshots                  # refresh docs/screenshots (the README's)
    python -m tools.screenshots --out build/x    # anywhere else

Launches `python app.py` on a free port, opens it in Debian's Chromium (Playwright), picks the
first bundled example, and saves <tab>-<width>-<theme>.png for each tab. The browser test
(tests/test_app_browser.py) uses the same tour and writes to build/screenshots instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"]
VIEWPORTS = {"desktop": {"width": 1400, "height": 1000}, "phone": {"width": 390, "height": 844}}
THEMES = ("light", "dark")
TABS = {"song": "Song", "words": "Your words", "map": "Explore", "clusters": "Clusters",
        "train": "Train"}
LONG = 240_000  # ms: the first analysis may load the models


def open_tab(page, name: str) -> None:
    """Click a tab, through the overflow menu when the tab bar hides it (phones). The bar is
    drawn a moment after the page title: wait until the tab is in it or in the menu."""
    tab = page.get_by_role("tab", name=name, exact=True)
    listed = page.locator("#tabs .overflow-dropdown button").filter(has_text=name)
    tab.or_(listed).first.wait_for(state="attached")
    if tab.count():
        tab.click()
    else:
        page.get_by_role("button", name="More tabs").click()
        listed.first.click()


def shoot(page, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1200)  # let plotly finish drawing
    page.screenshot(path=str(path), full_page=True)


def tour(page, out: Path, tag: str, example: str) -> None:
    """Pick `example` and screenshot every tab as <tab>-<tag>.png under `out`."""
    from playwright.sync_api import expect

    page.get_by_role("button", name=example).first.click()
    expect(page.locator("#hero-card")).to_contain_text(example, timeout=LONG)
    shoot(page, out / f"song-{tag}.png")
    open_tab(page, TABS["words"])
    page.get_by_role("button", name="Score my words").click()
    expect(page.locator("#words-notes")).to_contain_text("word(s) on", timeout=LONG)
    shoot(page, out / f"words-{tag}.png")
    open_tab(page, TABS["map"])
    expect(page.locator("#map-info")).to_contain_text("Coloured by", timeout=LONG)
    shoot(page, out / f"map-{tag}.png")
    open_tab(page, TABS["clusters"])
    expect(page.locator("#cluster-counts")).to_contain_text("distinct labels", timeout=LONG)
    shoot(page, out / f"clusters-{tag}.png")
    open_tab(page, TABS["train"])
    shoot(page, out / f"train-{tag}.png")


def new_page(browser, url: str, viewport: str, theme: str):
    context = browser.new_context(viewport=VIEWPORTS[viewport], color_scheme=theme)
    page = context.new_page()
    page.goto(f"{url}?__theme={theme}", wait_until="domcontentloaded")
    page.get_by_text("EmoAlign: music emotions in your own words").wait_for(timeout=60_000)
    return context, page


def capture_all(browser, url: str, out: Path, example: str) -> list[Path]:
    """Every tab at every width and theme, with a launched Playwright `browser`."""
    for viewport in VIEWPORTS:
        for theme in THEMES:
            context, page = new_page(browser, url, viewport, theme)
            tour(page, out, f"{viewport}-{theme}", example)
            context.close()
    return sorted(out.glob("*.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    sys.path.insert(0, str(REPO))
    from app_server import launched_app
    from emoalign.web.examples import load_examples

    from playwright.sync_api import sync_playwright

    with launched_app() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        for path in capture_all(browser, url, args.out, load_examples()[0].title):
            print(path)
        browser.close()


if __name__ == "__main__":
    main()
