"""The solo-piano sets: real fluidsynth renders with each Debian GM soundfont (whole and
trimmed) of piano MIDI files written here, and, with the datasets, the measure-window labels on
real VGMIDI measures.csv rows and MemoMusic's rescaling (Russell quadrants:
emoalign.answer.valence_arousal.quadrant_of)."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from emoalign.learn import piano
from emoalign.learn.piano import (SOUNDFONTS, memomusic_pieces, render_gain, render_midi,
                                  vgmidi_measures, vgmidi_pieces, vgmidi_window_va)

SHORT_PIECE = 8183  # the shortest VGMIDI piece: 18.0 s, timing_ok
TICKS_PER_SECOND = 960  # 480 ticks a beat at MIDI's default 120 bpm


def write_midi(path, notes: list[tuple[float, float, int]]):
    """A one-track piano MIDI file of `notes` (start s, end s, pitch)."""
    import mido
    track = mido.MidiTrack([mido.Message("program_change", program=0, time=0)])
    events = sorted([(start, 1, "note_on", pitch) for start, _, pitch in notes]
                    + [(end, 0, "note_off", pitch) for _, end, pitch in notes])
    now = 0
    for seconds, _, kind, pitch in events:
        tick = round(seconds * TICKS_PER_SECOND)
        track.append(mido.Message(kind, note=pitch, velocity=80 if kind == "note_on" else 0,
                                  time=tick - now))
        now = tick
    midi = mido.MidiFile(ticks_per_beat=480)
    midi.tracks.append(track)
    midi.save(str(path))
    return path


def arpeggio(start: float, end: float) -> list[tuple[float, float, int]]:
    """A C-major arpeggio, one 0.5-s note every 0.5 s, from `start` to `end` s."""
    pitches = (60, 64, 67, 72)
    return [(t / 2, t / 2 + 0.5, pitches[t % 4]) for t in range(int(2 * start), int(2 * end))]


@pytest.fixture(scope="module")
def pieces(tmp_path_factory) -> dict:
    """Two MIDI pieces: "short" (18 s of arpeggio) and "held" (66 s; a chord held from 59 s to
    64 s, with no MIDI event between 59 s and 64 s)."""
    folder = tmp_path_factory.mktemp("midi")
    chord = [(59.0, 64.0, pitch) for pitch in (48, 55, 64)]
    return {"short": write_midi(folder / "short.mid", arpeggio(0, 18)),
            "held": write_midi(folder / "held.mid", arpeggio(0, 59) + chord + arpeggio(64, 66))}


@pytest.fixture(scope="module")
def root():
    from conftest import dataset_dir
    return dataset_dir("vgmidi", "checks its pieces and measure labels")


@pytest.fixture(scope="module")
def vgmidi(root):
    return {r["piece_id"]: r for r in vgmidi_pieces(root)}


@pytest.fixture(scope="module")
def measures(root):
    return vgmidi_measures(root)


needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None,
    reason=f"fluidsynth is not installed (apt-get install {piano.INSTALL_HINT.split(' ', 2)[2]})")


@needs_fluidsynth
@pytest.mark.parametrize("soundfont", list(SOUNDFONTS))
def test_render_is_mono_float32_at_rate_and_cut(pieces, soundfont):
    if not SOUNDFONTS[soundfont].is_file():
        pytest.skip(f"soundfont {SOUNDFONTS[soundfont]} is not installed")
    audio = render_midi(pieces["short"], soundfont, sr=16000, gain=0.8, max_seconds=10.0)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == 10 * 16000  # the MIDI runs 18 s, so the cut decides
    rms = float(np.sqrt(np.mean(audio ** 2)))
    assert 0.005 < rms < 0.5 and np.abs(audio).max() < 1.0


@needs_fluidsynth
def test_whole_render_runs_to_the_midi_end_plus_a_short_tail(pieces):
    audio = render_midi(pieces["short"], "timgm", sr=24000, gain=0.8, max_seconds=60.0)
    seconds, midi_end_s = len(audio) / 24000, 18.0
    assert midi_end_s - 0.1 <= seconds <= midi_end_s + 5  # release tail
    # Music throughout: every 2-s stretch before the MIDI's end has sound.
    for t in range(0, int(midi_end_s) - 2, 2):
        assert np.abs(audio[t * 24000:(t + 2) * 24000]).max() > 0.01, t


@needs_fluidsynth
def test_trimmed_render_equals_the_whole_render_up_to_the_cut(pieces):
    # The held piece (66 s) has no MIDI event between 59 s and 64 s (a held chord): the trim
    # must keep its notes sounding up to the cut, not stop them at the last kept event.
    midi = pieces["held"]
    whole = render_midi(midi, "timgm", gain=0.8)
    trimmed = render_midi(midi, "timgm", gain=0.8, max_seconds=60.0)
    assert len(whole) > len(trimmed) == 60 * 24000
    assert np.abs(whole[:len(trimmed)] - trimmed).max() < 1e-4


@needs_fluidsynth
def test_gain_scales_the_level(pieces):
    midi = pieces["short"]
    quiet = render_midi(midi, "timgm", gain=0.5, max_seconds=6.0)
    loud = render_midi(midi, "timgm", gain=1.0, max_seconds=6.0)
    assert np.sqrt(np.mean(loud ** 2)) / np.sqrt(np.mean(quiet ** 2)) == pytest.approx(2, rel=0.1)


def test_missing_fluidsynth_or_soundfont_says_how_to_install(pieces, monkeypatch, tmp_path):
    midi = pieces["short"]
    with pytest.raises(RuntimeError, match="apt-get install fluidsynth"):
        render_midi(midi, tmp_path / "missing.sf2")
    monkeypatch.setattr(piano.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="fluidsynth is not installed.*apt-get install"):
        render_midi(midi, "timgm" if SOUNDFONTS["timgm"].is_file() else "fluidr3")
    with pytest.raises(ValueError, match="J800"):
        render_midi(midi, "/usr/share/sounds/sf2/J800_Piano.sf2")


def test_render_gain_is_deterministic_and_spread():
    gains = [render_gain(sf, "vgmidi", pid) for sf in SOUNDFONTS for pid in range(8000, 8200)]
    assert gains[:5] == [render_gain("fluidr3", "vgmidi", pid) for pid in range(8000, 8005)]
    assert 0.5 <= min(gains) < 0.53 and 0.97 < max(gains) <= 1.0
    assert abs(np.mean(gains) - 0.75) < 0.03


def test_window_va_matches_a_hand_computed_example(measures):
    # Piece 8000's first three measures (measures.csv): [0, 1.969) v -0.0533 a 0.0530,
    # [1.969, 3.938) v -0.0540 a 0.0303, [3.938, 5.906) v -0.0750 a -0.0787.
    # The window [1.0, 5.0) overlaps them by 0.969, 1.969 and 1.062 s.
    v, a = vgmidi_window_va(measures[8000], 1.0, 5.0)
    assert v == pytest.approx((0.969 * -0.0533 + 1.969 * -0.054 + 1.062 * -0.075) / 4.0, abs=1e-6)
    assert a == pytest.approx((0.969 * 0.053 + 1.969 * 0.0303 + 1.062 * -0.0787) / 4.0, abs=1e-6)
    # Inside one measure: that measure's values.
    assert vgmidi_window_va(measures[8000], 2.0, 3.0) == pytest.approx((-0.054, 0.0303))
    # No overlap: NaN.
    assert all(math.isnan(x) for x in vgmidi_window_va(measures[8000], 500.0, 510.0))


def test_window_va_over_the_whole_piece_is_the_piece_mean(vgmidi, measures):
    for pid in (8000, 8003, SHORT_PIECE):
        piece = vgmidi[pid]
        v, a = vgmidi_window_va(measures[pid], 0.0, piece["label_end_s"])
        assert v == pytest.approx(piece["valence_mean"], abs=1e-3)
        assert a == pytest.approx(piece["arousal_mean"], abs=1e-3)


def test_vgmidi_rows(vgmidi, measures):
    assert len(vgmidi) == 200 and sorted(vgmidi) == list(range(8000, 8200))
    assert all(r["midi"].is_file() for r in vgmidi.values())
    assert sum(not r["timing_ok"] for r in vgmidi.values()) == 9
    assert all((r["label_end_s"] is None) != r["timing_ok"] for r in vgmidi.values())
    assert sorted(r["split"] for r in vgmidi.values()).count("test") == 30
    for r in vgmidi.values():
        assert -1 <= r["valence_mean"] <= 1 and -1 <= r["arousal_mean"] <= 1
        assert len(measures[r["piece_id"]]["start_s"]) == r["n_measures"]


def test_memomusic_rows_are_rescaled_to_minus_one_one():
    from conftest import dataset_dir
    root = dataset_dir("memomusic", "checks its pieces and their rescaled labels")
    rows = {r["id"]: r for r in memomusic_pieces(root)}
    assert len(rows) == 180
    assert sum(r["midi"] is not None for r in rows.values()) == 178
    assert rows["pop_13"]["midi"] is None and rows["yanni_48"]["midi"] is None
    audio = [r for r in rows.values() if r["audio"] is not None]
    assert len(audio) == 61 and all(r["audio"].is_file() and r["audio"].suffix == ".ogg"
                                    for r in audio)
    assert all(r["midi"].is_file() for r in rows.values() if r["midi"] is not None)
    for r in rows.values():
        assert -1 <= r["valence"] <= 1 and -1 <= r["arousal"] <= 1
        assert r["valence"] == r["valence_raw"] / 5 and r["arousal"] == (r["arousal_raw"] - 5) / 5
    # classical_04 is rated valence 4, arousal 7.
    assert (rows["classical_04"]["valence"], rows["classical_04"]["arousal"]) == (0.8, 0.4)
    assert piano.memomusic_valence(-5) == -1 and piano.memomusic_arousal(0) == -1
    assert piano.memomusic_arousal(10) == 1 and piano.memomusic_arousal(5) == 0
