"""The command line, run as a user would."""

import json
import subprocess
import sys

from conftest import REPO


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "emoalign.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def test_predict_json_with_custom_words(clip):
    result = run_cli("predict", str(clip("150")), "--words", "wistful, furious, serene", "--json",
                     "--top-k", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["file"] == "150.ogg" and len(data["top_by_mean"]) == 2
    assert sorted(row["word"] for row in data["song"]) == ["furious", "serene", "wistful"]
    assert len(data["segments"]) == 6  # a 60-s clip


def test_predict_table_and_errors(clip, tmp_path):
    result = run_cli("predict", str(clip("150")), "--labels", "quadrants", "--segments")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "happy, energetic" in result.stdout and "by segment vote" in result.stdout
    missing = run_cli("predict", str(tmp_path / "nope.wav"))
    assert missing.returncode == 2 and "No such audio file" in missing.stderr
