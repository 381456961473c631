"""The Ray Data engine writes the same rows as the local one (Ray's local cluster, real songs
(bundled examples), real models)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CALM_SONG, LIVELY_SONG
from emoalign.library.indexing import index_folder
from emoalign.library.store import Library

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason="the Ray engine needs pip install 'emoalign[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_engine_writes_the_same_rows_as_the_local_one(ray_local, tmp_path, pipeline):
    from emoalign.library.scale import index_with_ray
    folder = tmp_path / "music"
    (folder / "sub").mkdir(parents=True)
    clips = [CALM_SONG, LIVELY_SONG]
    (folder / clips[0].name).symlink_to(clips[0])
    (folder / "sub" / clips[1].name).symlink_to(clips[1])
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x10\x00\x00WAVEfmt " + b"\x07" * 4000)
    local = Library(tmp_path / "local.db")
    index_folder(folder, local, pipeline, progress=False)
    remote = Library(tmp_path / "ray.db")
    report = index_with_ray(str(folder), remote, actors=2, progress=False)
    assert (report.found, report.added, len(report.failed)) == (3, 2, 1)
    assert remote.errors() == local.errors() and remote.errors()[0][0] == "broken.wav"
    by_path = lambda songs: sorted(songs, key=lambda s: s.path)  # noqa: E731 (Ray's order is arrival)
    ours, theirs = by_path(local.songs()), by_path(remote.songs())
    assert [s.path for s in ours] == [s.path for s in theirs] == [clips[0].name, f"sub/{clips[1].name}"]
    for a, b in zip(ours, theirs):
        assert a.hash == b.hash and a.duration_s == b.duration_s
        assert np.abs(a.embedding - b.embedding).max() < 1e-5
        assert np.abs(a.segment_embeddings - b.segment_embeddings).max() < 1e-5
        assert abs(a.valence - b.valence) < 1e-3 and abs(a.arousal - b.arousal) < 1e-3
        # percentiles are steps of the reference's weights: a 1e-7 cosine may cross one
        assert np.abs(a.scores - b.scores).max() < 2e-3
        assert (a.encoder, a.adapter_sha256) == (b.encoder, b.adapter_sha256)
    again = index_with_ray(str(folder), remote, actors=2, progress=False)
    assert (again.added, again.skipped) == (0, 2) and remote.count() == 2
