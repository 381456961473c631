"""Readable names for the reference songs, from the datasets' own metadata:

    python tools/reference_names.py        # writes assets/reference/names.json

Each reference id ("4q/MT0000004637", "emotify/62", "vgmidi@musescore/8000", ...) gets its
dataset, its known label (4Q's quadrant, Emotify's top-3 GEMS by listeners' votes, the piano
sets' valence/arousal quadrant), artist and title where the dataset gives them (4Q: AllMusic
artist and title; VGMIDI: game and title; MemoMusic: title; Emotify: genre and track number,
it names no songs), and one readable name. Only these metadata strings are written, never
audio. Reads the datasets from $EMOALIGN_DATA or ../shared/data.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

GEMS = ("amazement", "solemnity", "tenderness", "nostalgia", "calmness", "power",
        "joyful_activation", "tension", "sadness")  # tracks.csv's column order breaks ties
RENDERS = {"audio": "recording", "musescore": "MuseScore render", "fluidr3": "FluidR3 render",
           "timgm": "TimGM render"}
QUADRANTS = {1: "Q1 happy, energetic", 2: "Q2 angry, tense", 3: "Q3 sad, low",
             4: "Q4 calm, peaceful"}


def quadrant(valence: float, arousal: float) -> str:
    return QUADRANTS[1 if valence >= 0 and arousal >= 0 else 2 if arousal >= 0 else
                     3 if valence < 0 else 4]


def rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def names(data: Path) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for r in rows(data / "4q" / "metadata.csv"):
        label = QUADRANTS[int(r["Quadrant"][1])]
        out[f"4q/{r['Song']}"] = dict(
            dataset="4Q", label=label, artist=r["Artist"], title=r["Title"],
            name=f"{r['Artist']} - {r['Title']} (4Q, {label})")
    for r in rows(data / "emotify" / "tracks.csv"):
        votes = [(-int(r[f"votes_{g}"]), i) for i, g in enumerate(GEMS)]
        top = [GEMS[i].replace("_", " ") for _, i in sorted(votes)[:3]]
        track = int(r["track_id"])
        out[f"emotify/{track}"] = dict(
            dataset="Emotify", label=", ".join(top), artist="", title="",
            name=f"Emotify {r['genre']} track {track:03d} (listeners: {', '.join(top)})")
    for r in rows(data / "vgmidi" / "pieces.csv"):
        label = quadrant(float(r["valence_mean"]), float(r["arousal_mean"]))
        for render in ("musescore", "fluidr3", "timgm"):
            out[f"vgmidi@{render}/{r['piece_id']}"] = dict(
                dataset="VGMIDI", label=label, artist=r["game"], title=r["title"],
                name=f"{r['title']} - {r['game']} (VGMIDI piano, {RENDERS[render]}, {label})")
    for r in rows(data / "memomusic" / "pieces.csv"):
        # rated valence -5..5 and arousal 0..10, centred at 0 and 5 (emoalign.learn.piano rescales)
        label = quadrant(float(r["valence"]), float(r["arousal"]) - 5)
        for render in ("audio", "musescore", "fluidr3", "timgm"):
            out[f"memomusic@{render}/{r['id']}"] = dict(
                dataset="MemoMusic", label=label, artist="", title=r["title"],
                name=f"{r['title']} (MemoMusic {r['category']} piano, {RENDERS[render]}, "
                     f"{label})")
    return out


def main() -> None:
    from emoalign.answer.calibration import load_reference, reference_path
    from emoalign.paths import data_root
    corpus, _, _ = load_reference(reference_path("musicnn"))
    table = names(data_root())
    missing = [i for i in corpus.ids if str(i) not in table]
    if missing:
        sys.exit(f"{len(missing)} reference ids have no metadata, e.g. {missing[:3]}")
    out = REPO / "assets" / "reference" / "names.json"
    lines = [f"{json.dumps(str(i))}: {json.dumps(table[str(i)], ensure_ascii=False)}"
             for i in corpus.ids]  # one song a line
    out.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    print(f"wrote {out} ({len(corpus.ids)} songs)")


if __name__ == "__main__":
    main()
