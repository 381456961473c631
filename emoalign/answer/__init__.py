"""The answer for a song: the adapter that maps encoder features into the label space, the
reference corpus and calibration that turn cosines into scores, valence/arousal (the gated head),
words placed on the valence/arousal plane, the music check and neutral band, what words mean to
the model, the results and their output contract, and `EmotionPipeline`, which ties them together.
It imports from `audio`, `text` and the floor, never from `learn`, `library` or `web`."""

from ..lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "EmotionPipeline": "pipeline", "Adapter": "adapter", "available_adapters": "adapter",
    "load_adapter": "adapter", "EmotionScores": "results", "Prediction": "results",
    "SongAnalysis": "results", "ValenceArousal": "results", "WordExplanation": "results",
    "ReferenceCorpus": "calibration", "Calibrator": "calibration", "VAHead": "valence_arousal",
})
