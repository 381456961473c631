"""2-D maps of embeddings: UMAP (umap-learn) for enough points, PCA for a handful.

UMAP's spectral initialisation and its neighbour graph break down on a few points, so maps
of fewer than `MIN_UMAP_POINTS` rows use PCA, and a UMAP failure falls back to PCA too.
"""

from __future__ import annotations

import warnings

import numpy as np

MIN_UMAP_POINTS = 12  # below this UMAP's neighbour graph is too thin to mean anything


def project_2d(points: np.ndarray, method: str = "auto", n_neighbors: int = 15,
               min_dist: float = 0.1, seed: int = 0) -> tuple[np.ndarray, str]:
    """(n, d) embeddings -> ((n, 2) coordinates, the method actually used).

    `method` is "auto" (UMAP from `MIN_UMAP_POINTS` points, else PCA), "umap" or "pca".
    UMAP uses the cosine metric (the embeddings are compared by cosine everywhere else) and
    `init="random"`, which unlike the spectral default works for any number of points.

    >>> xy, used = project_2d(np.eye(3, 5))
    >>> xy.shape, used
    ((3, 2), 'pca')
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2:
        raise ValueError(f"expected (n, d) points, got shape {points.shape}")
    if method not in ("auto", "umap", "pca"):
        raise ValueError(f"method must be 'auto', 'umap' or 'pca', got {method!r}")
    if method == "pca" or (method == "auto" and len(points) < MIN_UMAP_POINTS):
        return pca_2d(points), "pca"
    try:
        return _umap_2d(points, n_neighbors, min_dist, seed), "umap"
    except Exception as error:  # numba / graph failures on odd inputs: a PCA map beats none
        warnings.warn(f"UMAP failed ({error}); showing a PCA map instead", RuntimeWarning)
        return pca_2d(points), "pca"


def pca_2d(points: np.ndarray) -> np.ndarray:
    """First two principal components of (n, d) points; missing components are zeros."""
    points = np.asarray(points, dtype=np.float64)
    xy = np.zeros((len(points), 2))
    if len(points) < 2:
        return xy
    centred = points - points.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    k = min(2, len(s))
    xy[:, :k] = u[:, :k] * s[:k]
    return xy


def _umap_2d(points: np.ndarray, n_neighbors: int, min_dist: float, seed: int) -> np.ndarray:
    import umap  # slow to import (numba): only when a map is drawn

    reducer = umap.UMAP(n_components=2, n_neighbors=max(2, min(n_neighbors, len(points) - 1)),
                        min_dist=min_dist, metric="cosine", init="random", random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")
        xy = reducer.fit_transform(points)
    if not np.isfinite(xy).all():
        raise ValueError("non-finite coordinates")
    return np.asarray(xy, dtype=np.float64)
