"""Cut the app's bundled example clips from free-software game soundtracks packaged in Debian.

Each clip is a 30-s excerpt of one track. The track comes from a Debian 12 (bookworm) package,
fetched with `apt-get download` and unpacked with `dpkg -x` (nothing is installed), and is
checked against the MD5 it had when the excerpt was chosen. ffmpeg cuts it, adds a short fade
at both ends, re-encodes it (OGG/Vorbis, 44.1 kHz stereo, 96 kbit/s) and writes the track's
title, artist, licence and what was changed into the file's tags. Then assets/examples/
examples.json is rewritten. Credits and licences: assets/examples/ATTRIBUTION.md.

    python tools/examples.py [--work /tmp/emoalign-examples] [--out assets/examples]

Needs apt-get, dpkg and ffmpeg (with libvorbis). The download is about 450 MB.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import subprocess
from pathlib import Path

import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
CLIP_S = 30.0
FADE_IN_S, FADE_OUT_S = 0.5, 1.5
ENCODING = ["-ac", "2", "-ar", "44100", "-c:a", "libvorbis", "-b:a", "96k"]
CHANGES = "excerpt {start:g}-{end:g} s, faded in/out, re-encoded to OGG/Vorbis 96 kbit/s"
LICENCE_URL = {
    "CC-BY-3.0": "https://creativecommons.org/licenses/by/3.0/",
    "CC-BY-SA-3.0": "https://creativecommons.org/licenses/by-sa/3.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "GPL-2.0-or-later": "https://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
}
WESNOTH = ("wesnoth-1.16-music", "1:1.16.9-1", "usr/share/games/wesnoth/1.16/data/core/music")


@dataclasses.dataclass(frozen=True)
class Track:
    file: str  # name of the clip in assets/examples
    title: str
    artist: str
    game: str
    package: str  # Debian package and version the track is taken from
    version: str
    path: str  # inside the package
    md5: str  # of the packaged track, to cut from the same audio on every run
    start_s: float
    licence: str  # SPDX identifier
    description: str
    emotions: tuple[str, ...]  # intended mood (quadrant label) from title and use in the game


TRACKS = (
    Track("etr_credits.ogg", "Credits", "Christian Picon", "Extreme Tux Racer",
          "extremetuxracer-data", "0.8.2-1", "usr/share/games/etr/music/credits1-cp.ogg",
          "a9027c6a33b1058dac0ac2564f171481", 20, "GPL-2.0-or-later",
          "Upbeat electronic music in C major at about 144 bpm: synths over a dance beat.",
          ("happy, energetic",)),
    Track("openclonk_offshore.ogg", "Offshore", "K-Pone", "OpenClonk",
          "openclonk-data", "8.1-3", "usr/share/games/openclonk/Music.ocg/Offshore.ogg",
          "832512cfca919aaf63277d9205a14cb7", 30, "CC-BY-3.0",
          "Relaxed, laid-back A-major piece with a light jazz-pop feel: drums and guitar.",
          ("calm, peaceful",)),
    Track("wesnoth_sad.ogg", "Sad", "Tyler Johnson", "The Battle for Wesnoth",
          *WESNOTH[:2], f"{WESNOTH[2]}/sad.ogg",
          "bf6aad2d33a7147fa59cfaa2820360e1", 5, "GPL-2.0-or-later",
          "Slow, quiet D-minor strings, from a short cue the game names \"sad\".",
          ("sad, melancholic",)),
    Track("warzone_nuclear_heartbeat.ogg", "Nuclear Heartbeat", "LupusMechanicus",
          "Warzone 2100 (Aftermath Soundtrack)", "warzone2100-music", "4.3.3-3",
          "usr/share/games/warzone2100/music/albums/aftermath_soundtrack/track17.opus",
          "5897320f9538398b349c8fedf6b9a9ba", 150, "CC-BY-SA-3.0",
          "Loud, driving electronic track, techno beat and synths, from a post-apocalyptic "
          "strategy game.",
          ("angry, anxious",)),
    Track("wesnoth_return_to_wesnoth.ogg", "Return to Wesnoth", "Mattias Westlund",
          "The Battle for Wesnoth", *WESNOTH[:2], f"{WESNOTH[2]}/return_to_wesnoth.ogg",
          "e32bf98ade8f1c7817190b22195014d4", 110, "CC-BY-SA-4.0",
          "Big orchestral fantasy theme led by strings, from a turn-based strategy game.",
          ("happy, energetic",)),
    Track("wesnoth_love_theme.ogg", "Love Theme", "Ryan Reilly", "The Battle for Wesnoth",
          *WESNOTH[:2], f"{WESNOTH[2]}/love_theme.ogg",
          "926a8a82f5d7ce54ac1b9a4d210f74a8", 10, "GPL-2.0-or-later",
          "Slow, gentle orchestral theme: flute over soft strings.",
          ("calm, peaceful",)),
)


def unpacked(package: str, version: str, work: Path) -> Path:
    """The package's files under work/<package>, downloading and unpacking it on first use."""
    root = work / package
    if not root.is_dir():
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=work, check=True)
        deb = next(work.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    return root


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def cut(track: Track, source: Path, out: Path) -> None:
    """Write the 30-s excerpt with fades, re-encoded, with credits and changes in its tags."""
    end = track.start_s + CLIP_S
    fades = (f"afade=t=in:d={FADE_IN_S},"
             f"afade=t=out:st={CLIP_S - FADE_OUT_S}:d={FADE_OUT_S}")
    tags = {"title": track.title, "artist": track.artist, "album": track.game,
            "license": f"{track.licence} {LICENCE_URL[track.licence]}",
            "comment": CHANGES.format(start=track.start_s, end=end)
            + f" by EmoAlign from Debian {track.package} {track.version}, {track.path}"}
    metadata = [arg for key, value in tags.items() for arg in ("-metadata", f"{key}={value}")]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", str(track.start_s), "-t", str(CLIP_S),
                    "-i", str(source), "-map_metadata", "-1", "-af", fades, *ENCODING,
                    "-fflags", "+bitexact", "-flags:a", "+bitexact", *metadata, str(out)],
                   check=True)


def index_row(track: Track, clip: Path) -> dict:
    end = track.start_s + CLIP_S
    return {"file": track.file, "title": track.title, "artist": track.artist,
            "description": track.description, "emotions": list(track.emotions),
            "emotions_basis": "intended mood, judged from the track's title and use in its "
                              "game; not a listener rating",
            "duration_s": round(sf.info(str(clip)).duration, 2),
            "licence": track.licence, "licence_url": LICENCE_URL[track.licence],
            "source": f"{track.game}; Debian package {track.package} {track.version}, "
                      f"/{track.path}",
            "changes": CHANGES.format(start=track.start_s, end=end)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/emoalign-examples"),
                        help="where packages are downloaded and unpacked")
    parser.add_argument("--out", type=Path, default=REPO / "assets" / "examples")
    args = parser.parse_args()
    rows = []
    for track in TRACKS:
        source = unpacked(track.package, track.version, args.work) / track.path
        if md5(source) != track.md5:
            raise SystemExit(f"{source} changed (MD5 {md5(source)}, expected {track.md5})")
        cut(track, source, args.out / track.file)
        rows.append(index_row(track, args.out / track.file))
        print(f"{track.file}: {rows[-1]['duration_s']} s, "
              f"{(args.out / track.file).stat().st_size // 1024} KiB")
    with open(args.out / "examples.json", "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=2, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
