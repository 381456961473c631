"""Content digests of files: one streamed SHA-256 for every
place that names a file by its bytes: adapter cards, uploaded adapters, library rows, the
analysis cache, the bundled examples and the ONNX exports' source weights."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK = 1 << 20  # read 1 MiB at a time, so large files never sit in memory whole


def file_digest(path: str | Path) -> str:
    """Hex SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()
