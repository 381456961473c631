"""EmoAlign: zero-shot music emotion recognition in a shared label-embedding space.

>>> import emoalign
>>> pipe = emoalign.EmotionPipeline()            # offline default encoder + shipped adapter
>>> song = pipe.analyze("song.ogg")
>>> pipe.predict(song, "wistful, furious, serene").to_dict()   # the output contract

Names are imported on first use (PEP 562), so `import emoalign.library` or `emoalign --help`
does not pay for torch.
"""

from importlib import import_module

__version__ = "0.1.0"

_WHERE = {
    "available_adapters": "adapter", "load_adapter": "adapter",
    "AudioError": "audio", "load_audio": "audio", "split_segments": "audio",
    "available_encoders": "encoders", "load_encoder": "encoders",
    "available_label_sets": "labels", "load_label_set": "labels", "parse_words": "labels",
    "EmotionPipeline": "pipeline",
    "EmotionScores": "results", "Prediction": "results", "SongAnalysis": "results",
    "ValenceArousal": "results", "WordExplanation": "results",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'emoalign' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
