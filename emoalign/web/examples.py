"""The bundled example songs (assets/examples/examples.json) and their precomputed analyses,
so that a visitor who picks one gets an answer without waiting for the audio work.

    python -m emoalign.web.examples      # analyse every example with the default model and write
                                     # assets/examples/analyses-<encoder>.json

The analyses file is tied to the model by its key (encoder + SHA-256 of the adapter's weights
and card); under any other model the examples are analysed on first use as any song is.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from ..answer.results import SongAnalysis
from ..digest import file_digest
from ..paths import ASSETS
from .models import ModelChoice, Models

EXAMPLES_DIR = ASSETS / "examples"
ARRAYS = ("segment_starts", "features", "segment_embeddings", "silent", "tonal")


@dataclasses.dataclass(frozen=True)
class Example:
    path: Path
    title: str
    description: str = ""
    emotions: tuple[str, ...] = ()  # the intended mood from examples.json (judged from title and use, not rated)


def load_examples(directory: Path = EXAMPLES_DIR) -> list[Example]:
    """The examples listed in `directory`/examples.json whose files exist."""
    index = directory / "examples.json"
    if not index.is_file():
        return []
    rows = json.loads(index.read_text())
    rows = rows.get("examples", rows) if isinstance(rows, dict) else rows
    examples = []
    for row in rows:
        path = directory / row["file"]
        if path.is_file():
            emotions = row.get("emotions") or row.get("labels") or ()
            examples.append(Example(path, row.get("title") or path.stem,
                                    row.get("description", ""),
                                    tuple([emotions] if isinstance(emotions, str) else emotions)))
    return examples


def analyses_path(encoder: str, directory: Path = EXAMPLES_DIR) -> Path:
    return directory / f"analyses-{encoder}.json"


def song_to_dict(song: SongAnalysis) -> dict:
    out = {"name": song.name, "duration_s": song.duration_s, "tags": song.tags,
           "notices": song.notices, "encoder": song.encoder}
    for name in ARRAYS:
        value = getattr(song, name)
        out[name] = None if value is None else np.asarray(value).tolist()
    return out


def song_from_dict(row: dict) -> SongAnalysis:
    arrays = {name: None if row.get(name) is None else np.asarray(row[name])
              for name in ARRAYS}
    arrays["silent"] = arrays["silent"].astype(bool)
    for name in ("features", "segment_embeddings", "tonal"):
        if arrays[name] is not None:
            arrays[name] = arrays[name].astype(np.float32)
    return SongAnalysis(name=row["name"], duration_s=float(row["duration_s"]),
                        tags=dict(row.get("tags") or {}), notices=list(row.get("notices") or []),
                        encoder=row.get("encoder", ""), **arrays)


def precomputed(model_key: tuple[str, str], directory: Path = EXAMPLES_DIR
                ) -> dict[str, SongAnalysis]:
    """Precomputed analyses by file SHA-256, when the file was made under `model_key`."""
    path = analyses_path(model_key[0], directory)
    if not path.is_file():
        return {}
    stored = json.loads(path.read_text())
    if stored.get("model") != model_key[1]:
        return {}
    return {row["sha256"]: song_from_dict(row["analysis"]) for row in stored["examples"]}


def precompute(models: Models, choice: ModelChoice, directory: Path = EXAMPLES_DIR) -> Path:
    """Analyse every example under `choice` and write them next to the audio."""
    pipe = models.get(choice)
    rows = [{"file": e.path.name, "sha256": file_digest(e.path),
             "analysis": song_to_dict(pipe.analyze(e.path, name=e.title))}
            for e in load_examples(directory)]
    path = analyses_path(choice.encoder, directory)
    path.write_text(json.dumps({"model": models.key(choice)[1], "encoder": choice.encoder,
                                "examples": rows}, separators=(",", ":")))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Precompute the bundled examples' analyses.")
    parser.add_argument("--dir", type=Path, default=EXAMPLES_DIR)
    args = parser.parse_args()
    path = precompute(Models(), ModelChoice(), args.dir)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
