"""The command line, run as a user would."""

import json
import subprocess
import sys

from conftest import REPO


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "emoalign.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def test_predict_json_follows_the_output_contract(long_song):
    result = run_cli("predict", str(long_song), "--words", "wistful, furious, serene", "--json",
                     "--top-k", "2", "--segments")
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert {"file", "duration_s", "valence", "arousal", "quadrant", "calibrated", "ranking",
            "notices", "segments", "music"} == set(data)
    assert data["file"] == long_song.name and abs(data["duration_s"] - 60) < 1
    assert data["calibrated"] is True  # the shipped reference corpus
    assert -1 <= data["valence"] <= 1 and -1 <= data["arousal"] <= 1
    assert data["quadrant"]["number"] in (0, 1, 2, 3, 4) and data["quadrant"]["words"]
    ranking = data["ranking"]
    assert sorted(row["word"] for row in ranking) == ["furious", "serene", "wistful"]
    assert [r["score"] for r in ranking] == sorted((r["score"] for r in ranking), reverse=True)
    assert all(0 <= r["score"] <= 1 and -1 <= r["raw"] <= 1 and "reference songs" in r["meaning"]
               for r in ranking)
    assert len(data["segments"]) == 6  # a 60-s clip
    assert all(len(s["top"]) == 2 and -1 <= s["valence"] <= 1 for s in data["segments"])
    plain = json.loads(run_cli("predict", str(long_song), "--json").stdout)
    assert "segments" not in plain and len(plain["ranking"]) == 26  # plain mood words by default


def test_predict_table_and_errors(long_song, tmp_path):
    result = run_cli("predict", str(long_song), "--labels", "quadrants", "--segments")
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "happy, energetic" in out and "% of the reference songs" in out
    assert "Valence " in out and ", arousal " in out
    assert "(quadrant " in out or "neutral / mixed" in out
    assert "by segment vote" not in out and "by mean embedding" not in out  # one ranking
    assert out.count(" s  valence ") == 6  # one line per segment
    missing = run_cli("predict", str(tmp_path / "nope.wav"))
    assert missing.returncode == 2 and "No such audio file" in missing.stderr
