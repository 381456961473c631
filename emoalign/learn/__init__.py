"""Learning an adapter and measuring it: the labelled datasets and the solo-piano sets, your own
folder plus a labels CSV, the feature cache, the training loop and its losses, evaluation and
metrics, the runs the app and train/ start, and the reference corpus built from the datasets.
It imports from `answer`, `audio`, `text` and the floor, never from `library` or `web`."""

from ..lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "DATASETS": "datasets", "Tracks": "datasets", "load_tracks": "datasets",
    "folder_dataset": "folders", "TrainConfig": "training", "TrainResult": "training",
    "train": "training", "run_training": "runs", "evaluate_all": "evaluation",
})
