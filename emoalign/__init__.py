"""EmoAlign: zero-shot music emotion recognition in a shared label-embedding space.

>>> import emoalign
>>> pipe = emoalign.EmotionPipeline()            # offline default encoder + shipped adapter
>>> song = pipe.analyze("song.ogg")
>>> pipe.predict(song, "wistful, furious, serene").to_dict()   # the output contract

A song flows down the folders: `audio` (decode, segment, encode) and `text` (words, label sets,
clusters) -> `answer` (adapter, calibration, valence/arousal, the pipeline) -> `learn`
(datasets, training, evaluation) and `library` (the song store, search, journeys) -> `web` (the
app) and the CLI (`cli`, `commands`). A module imports only from its own folder, the folders
before it, and the floor: `paths`, `cache`, `digest`, `lazy`. `safety` (serving strangers)
sits above `audio` and `text`. docs/architecture.md has the picture; tests/test_layout.py
checks it.

Names are imported on first use (PEP 562), so `import emoalign.library` or `emoalign --help`
does not pay for torch.
"""

from .lazy import exports

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = exports(__name__, {
    "available_adapters": "answer.adapter", "load_adapter": "answer.adapter",
    "AudioError": "audio.load", "load_audio": "audio.load", "split_segments": "audio.load",
    "available_encoders": "audio.encoders", "load_encoder": "audio.encoders",
    "available_label_sets": "text.labels", "load_label_set": "text.labels",
    "parse_words": "text.labels",
    "EmotionPipeline": "answer.pipeline",
    "EmotionScores": "answer.results", "Prediction": "answer.results",
    "SongAnalysis": "answer.results", "ValenceArousal": "answer.results",
    "WordExplanation": "answer.results",
    "Library": "library.store",
})
