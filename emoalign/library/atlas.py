"""2-D layouts fitted once, offline, and new points placed on them without refitting.

A UMAP of the reference corpus's songs (and one of the built-in labels) is fitted by

    python -m emoalign.library.atlas          # writes assets/reference/<encoder>-map.safetensors
                                      # and assets/labels/layout.safetensors

and stored as plain coordinates (never a pickled UMAP model). A new point is placed at the
similarity-weighted mean of its `k` nearest stored points (cosine in the embedding space):
a stored point lands on itself, a new song lands among the songs it resembles, and the stored
layout never moves when points are added.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from ..answer.calibration import REFERENCE_DIR
from ..answer.reference import reference_valence_arousal
from ..text.labels import LABELS_DIR, load_label_set

PLACE_K = 8  # neighbours a new point is placed among
SHARPNESS = 30.0  # softmax temperature on cosines: the nearest neighbour weighs most
LABEL_LAYOUT = LABELS_DIR / "layout.safetensors"
UMAP_SEED = 42


def map_path(encoder: str, directory: Path = REFERENCE_DIR) -> Path:
    return Path(directory) / f"{encoder}-map.safetensors"


def place(vectors: np.ndarray, anchors: np.ndarray, anchor_xy: np.ndarray,
          k: int = PLACE_K, sharpness: float = SHARPNESS) -> np.ndarray:
    """(M, d) unit vectors -> (M, 2): each the softmax(cosine * sharpness)-weighted mean of its
    `k` nearest `anchors`' (N, d) coordinates `anchor_xy` (N, 2).

    >>> anchors = np.eye(3); xy = np.array([[0., 0.], [5., 0.], [0., 5.]])
    >>> place(anchors[1:2], anchors, xy, k=1).tolist()
    [[5.0, 0.0]]
    """
    vectors = np.atleast_2d(np.asarray(vectors, np.float64))
    similarity = vectors @ np.asarray(anchors, np.float64).T  # (M, N)
    k = max(1, min(k, similarity.shape[1]))
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    chosen = np.take_along_axis(similarity, nearest, axis=1)
    weights = np.exp(sharpness * (chosen - chosen.max(axis=1, keepdims=True)))
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("mk,mkc->mc", weights, np.asarray(anchor_xy, np.float64)[nearest])


@dataclasses.dataclass
class SongMap:
    """The reference songs' stored 2-D coordinates and what the map colours them by."""
    xy: np.ndarray  # (N, 2)
    valence: np.ndarray  # (N,) predicted, in [-1, 1]
    arousal: np.ndarray  # (N,)
    adapter_sha256: str  # the adapter whose song embeddings the layout was fitted on


def load_song_map(encoder: str, directory: Path = REFERENCE_DIR) -> SongMap | None:
    """The stored map of `encoder`'s reference corpus, or None when there is none."""
    from safetensors import safe_open

    path = map_path(encoder, directory)
    if not path.is_file():
        return None
    with safe_open(str(path), framework="numpy") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = dict(f.metadata() or {})
    return SongMap(tensors["xy"].astype(np.float64), tensors["valence"].astype(np.float64),
                   tensors["arousal"].astype(np.float64), meta.get("adapter_sha256", ""))


def load_label_layout(path: Path = LABEL_LAYOUT) -> dict[str, np.ndarray]:
    """Built-in label -> its stored (2,) position ({} when none is stored)."""
    from safetensors import safe_open
    import json

    if not Path(path).is_file():
        return {}
    with safe_open(str(path), framework="numpy") as f:
        xy = f.get_tensor("xy").astype(np.float64)
        labels = json.loads(f.metadata()["labels"])
    return dict(zip(labels, xy))


def fit_layout(vectors: np.ndarray, n_neighbors: int = 15, min_dist: float = 0.1) -> np.ndarray:
    """A 2-D UMAP of (N, d) vectors, centred and scaled to unit spread (build time only)."""
    from .projection import project_2d

    xy, _ = project_2d(vectors, "umap", n_neighbors=n_neighbors, min_dist=min_dist,
                       seed=UMAP_SEED)
    xy = xy - xy.mean(axis=0)
    return xy / max(float(np.abs(xy).max()), 1e-9)


def build(encoder: str = "musicnn") -> list[Path]:
    """Fit and write the song map of `encoder`'s reference corpus and the label layout."""
    import json

    from safetensors.numpy import save_file

    from ..answer.pipeline import EmotionPipeline
    from ..text.encoder import TextEncoder

    pipe = EmotionPipeline(encoder)
    if pipe.reference is None:
        raise SystemExit(f"no reference corpus for {encoder}: run python -m train.reference")
    va = reference_valence_arousal(pipe.reference)
    xy = fit_layout(pipe.reference_embeddings)
    out = map_path(encoder)
    save_file({"xy": xy.astype(np.float32), "valence": va[:, 0].astype(np.float32),
               "arousal": va[:, 1].astype(np.float32)}, str(out),
              {"adapter_sha256": pipe.adapter_card["sha256"], "encoder": encoder})
    labels = list(load_label_set("all").labels)
    label_xy = fit_layout(TextEncoder().embed(labels, described=False), n_neighbors=10, min_dist=0.3)
    save_file({"xy": label_xy.astype(np.float32)}, str(LABEL_LAYOUT),
              {"labels": json.dumps(labels)})
    return [out, LABEL_LAYOUT]


def main() -> None:
    parser = argparse.ArgumentParser(description="Fit the song map and the label layout once.")
    parser.add_argument("--encoder", default="musicnn")
    for path in build(parser.parse_args().encoder):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
