"""EmoAlign: zero-shot music emotion recognition in a shared label-embedding space.

>>> import emoalign
>>> pipe = emoalign.EmotionPipeline()            # offline default encoder + shipped adapter
>>> song = pipe.analyze("song.ogg")
>>> pipe.predict(song, "wistful, furious, serene").to_dict()   # the output contract
"""

from .adapter import available_adapters, load_adapter
from .audio import AudioError, load_audio, split_segments
from .encoders import available_encoders, load_encoder
from .labels import available_label_sets, load_label_set, parse_words
from .pipeline import EmotionPipeline
from .results import EmotionScores, Prediction, SongAnalysis, ValenceArousal, WordExplanation

__version__ = "0.1.0"

__all__ = [
    "AudioError", "EmotionPipeline", "EmotionScores", "Prediction", "SongAnalysis",
    "ValenceArousal", "WordExplanation",
    "available_adapters", "available_encoders", "available_label_sets", "load_adapter",
    "load_audio", "load_encoder", "load_label_set", "parse_words", "split_segments",
]
