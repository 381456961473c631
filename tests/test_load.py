"""A bounded load test: 20 clients for 2 minutes against a local server in public mode.

Every client is its own session and loops over the main actions (analyse a real clip,
re-score, score words, search). It must end with 0 errors, and disk (the server's temp
folder: uploads, Gradio's cache, downloads) and memory (RSS) back near where they were after
a warm-up. EMOALIGN_LOAD_SECONDS shortens the run (default 120, as the issue asks).
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest

from app_server import launched_server
from conftest import example_clips

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

pytestmark = pytest.mark.slow
CLIENTS = 20
SECONDS = float(os.environ.get("EMOALIGN_LOAD_SECONDS", 120))
VOCABULARIES = ("gems", "mtg", "cal500", "quadrants", "allmusic", "all")
WORDS = ("wistful, furious, serene", "calm", "bittersweet, triumphant, homesick, eerie",
         "**loud** <b>x</b>, dreamy")


def disk_bytes(folder: Path) -> int:
    """Bytes of the files under `folder` (the server deletes files meanwhile)."""
    total = 0
    for dirpath, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except FileNotFoundError:
                continue
    return total


def session_folders(folder: Path) -> list[Path]:
    return [s for root in folder.glob("emoalign-downloads-*") for s in root.iterdir()]


def visitor(url: str, songs: list[Path], deadline: float, seed: int, counts: dict,
            errors: list, lock: threading.Lock) -> None:
    rng = random.Random(seed)
    client = Client(url, verbose=False)
    try:
        calls = [
            lambda: client.predict(handle_file(str(rng.choice(songs))), rng.choice(VOCABULARIES),
                                   rng.randint(1, 5), False, api_name="/analyze"),
            lambda: client.predict(rng.choice(VOCABULARIES), rng.randint(1, 5),
                                   api_name="/rescore"),
            lambda: client.predict(rng.choice(WORDS), None, 3, api_name="/score_words"),
            lambda: client.predict(rng.choice(WORDS), api_name="/search"),
        ]
        while time.monotonic() < deadline:
            for call in calls:
                try:
                    call()
                    with lock:
                        counts["ok"] += 1
                except Exception as error:  # noqa: BLE001 - every failure is counted
                    with lock:
                        errors.append(f"{type(error).__name__}: {error}"[:300])
                if time.monotonic() >= deadline:
                    break
    finally:
        client.close()


def test_twenty_clients_for_two_minutes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("load-tmp")
    songs = [path for path, _ in example_clips(tmp_path_factory.mktemp("songs"), 6)]
    env = {"EMOALIGN_PUBLIC": "1", "TMPDIR": str(tmp),
           "EMOALIGN_TRAINED": str(tmp_path_factory.mktemp("trained"))}
    with launched_server(env) as server:
        # warm-up: every action once per song and vocabulary (models, caches, Gradio's cache)
        warm = Client(server.url, verbose=False)
        for song, vocabulary in zip(songs, VOCABULARIES):
            warm.predict(handle_file(str(song)), vocabulary, 3, False, api_name="/analyze")
            warm.predict("calm", None, 3, api_name="/score_words")
            warm.predict("calm", api_name="/search")
        warm.close()
        start_disk, start_rss = disk_bytes(tmp), server.status("VmRSS")

        counts, errors, lock = {"ok": 0}, [], threading.Lock()
        deadline = time.monotonic() + SECONDS
        threads = [threading.Thread(target=visitor, args=(server.url, songs, deadline, i, counts,
                                                          errors, lock), daemon=True)
                   for i in range(CLIENTS)]
        peak_disk = start_disk
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            peak_disk = max(peak_disk, disk_bytes(tmp))
            time.sleep(2)
        for thread in threads:
            thread.join()
        busy_rss = server.status("VmRSS")

        # the sessions end (heartbeats stop): their downloads go
        settle = time.monotonic() + 120
        while session_folders(tmp) and time.monotonic() < settle:
            time.sleep(2)
        end_disk, end_rss = disk_bytes(tmp), server.status("VmRSS")
        print(f"\n{CLIENTS} clients x {SECONDS:.0f} s: {counts['ok']} requests, {len(errors)} "
              f"errors; temp disk {start_disk / 1e6:.1f} MB -> peak {peak_disk / 1e6:.1f} MB -> "
              f"{end_disk / 1e6:.1f} MB; RSS {start_rss / 1e3:.0f} MB -> {busy_rss / 1e3:.0f} MB "
              f"-> {end_rss / 1e3:.0f} MB")
        assert not errors, errors[:5]
        assert counts["ok"] >= CLIENTS * 4  # every client got through a round at least
        assert not session_folders(tmp), "sessions' downloads outlived them"
        assert end_disk - start_disk < 10e6
        assert end_rss / start_rss < 1.25
