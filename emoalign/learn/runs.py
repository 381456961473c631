"""The whole job: features, training, evaluation, saving (`run_training`), for the app's Train
tab and train/train.py.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .datasets import Tracks, available_datasets, load_tracks
from .evaluation import evaluate_all
from .features import extract_features, feature_path, load_features
from .training import TrainConfig, TrainResult, train

log = logging.getLogger(__name__)


@dataclass
class TrainingRun:
    """What `run_training` did."""
    path: Path  # the saved .safetensors; its card is path.with_suffix(".json")
    result: TrainResult
    metrics: list[dict]  # per task: task, dataset, label_set, split, zero_shot and the scores
    skipped: list[str]  # tasks not evaluated ("dataset/split/label_set"): features not cached

    @property
    def history(self) -> list[dict]:
        return self.result.history


def run_training(config: TrainConfig, encoder, out_dir: str | Path,
                 folders: Iterable[Tracks] = (), name: str | None = None,
                 progress: Callable[[float, str], None] | None = None,
                 on_epoch: Callable[[dict], None] | None = None,
                 features_dir: str | Path | None = None,
                 zero_shot_splits: tuple[str, ...] = ("test",),
                 card: dict | None = None,
                 should_stop: Callable[[], bool] | None = None) -> TrainingRun:
    """Encode, train, evaluate and save one adapter: the job of the app's Train tab and of
    train/train.py.

    `config.datasets` names shipped datasets and/or the datasets of `folders`
    (`folder_dataset`). The training datasets are encoded by `encoder` into the feature cache
    under `features_dir` (resuming; at most `config.max_segments` segments per track); the
    other shipped datasets in `data_root()` are scored only where their cache holds the tracks.
    Every label set of every dataset is scored on the test split (marked zero-shot where the
    label set was not trained on); datasets not trained on are scored on `zero_shot_splits`
    instead (e.g. ("test", "all")). The adapter and its card (`card` plus the metrics and
    per-label F1 of every task) are saved as `out_dir/<name>.safetensors` (default name:
    encoder-datasets-targets-lambda-time).

    `progress(fraction, message)` is called for every encoded track and every epoch (tqdm
    bars are shown only without it); `on_epoch(row)` gets each epoch's history row.
    `should_stop()` is asked before every track and every batch; True raises `features.Stopped`.
    """
    if encoder.name != config.encoder:
        raise ValueError(f"config.encoder is {config.encoder!r}, the encoder {encoder.name!r}")
    report = progress or (lambda fraction, message: None)
    tracks = {t.dataset: t for t in folders}
    for d in (*config.datasets, *available_datasets()):
        if d not in tracks:
            tracks[d] = load_tracks(d)
    features = _features(config, encoder, tracks, features_dir, report, progress is None,
                         should_stop)

    def epoch(row: dict) -> None:
        if on_epoch:
            on_epoch(row)
        report((row["epoch"] + 1) / config.max_epochs,
               f"Epoch {row['epoch'] + 1} of at most {config.max_epochs}: loss "
               f"{row['loss']:.4f}, validation macro-F1 {row['val_f1']:.3f}")

    result = train(config, {d: features[d] for d in config.datasets},
                   {d: tracks[d] for d in config.datasets}, progress=progress is None,
                   on_epoch=epoch, should_stop=should_stop)
    report(1.0, "Evaluating")
    scores, metrics, skipped = _evaluate(result.adapter, config, tracks, features,
                                         zero_shot_splits)
    full_card = result.card(card)
    full_card["metrics"].update({row["task"]: {k: v for k, v in row.items() if k not in
                                               ("task", "dataset", "label_set", "split")}
                                 for row in metrics})
    full_card["per_label_f1"] = {task: s["per_label_f1"] for task, s in scores.items()}
    name = name or (f"{config.encoder}-{'+'.join(config.datasets)}-{config.targets}-"
                    f"lam{config.lam:g}-{time.strftime('%Y%m%d-%H%M%S')}")
    from ..answer.adapter import save_adapter
    path = save_adapter(result.adapter, Path(out_dir) / f"{name}.safetensors", full_card)
    return TrainingRun(path, result, metrics, skipped)


def _features(config: TrainConfig, encoder, tracks: dict, features_dir, report, bars: bool,
              should_stop) -> dict:
    """The training datasets encoded into the cache (resuming), plus whatever the cache holds
    of the others; at most `config.max_segments` segments per track."""
    features = {}
    for d, dataset in tracks.items():
        path = feature_path(encoder.name, d, features_dir)
        if d in config.datasets:  # resumes: only tracks missing from the cache are encoded
            log.info("encoding %s with %s into %s", d, encoder.name, path)
            report(0.0, f"Encoding {d} with {encoder.name} (once; then cached)")
            features[d] = extract_features(
                encoder, d, path, dataset, max_segments=config.max_segments,
                progress=bars, should_stop=should_stop,
                on_track=lambda done, total, d=d: report(
                    done / total, f"Encoding {d} with {encoder.name}: track {done} of {total}"))
        elif path.is_file():
            features[d] = load_features(encoder.name, d, path=path)
    return {d: f.limit_segments(config.max_segments) for d, f in features.items()}


def _evaluate(adapter, config: TrainConfig, tracks: dict, features: dict,
              zero_shot_splits: tuple[str, ...]) -> tuple[dict, list[dict], list[str]]:
    """Every label set of every dataset scored (test split for trained datasets,
    `zero_shot_splits` for the others): (scores by task, metric rows, skipped tasks)."""
    trained = {tracks[d].spec.label_set for d in config.datasets}
    scores, metrics, skipped = {}, [], []
    for d, dataset in tracks.items():
        for label_set in dataset.spec.label_sets:
            zero_shot = label_set not in trained
            for split in ("test",) if d in config.datasets else zero_shot_splits:
                try:  # KeyError: no cache for `d`, or one without all of these tracks
                    (task, s), = evaluate_all(adapter, [(d, label_set, split)],
                                              features, tracks).items()
                except KeyError:
                    skipped.append(f"{d}/{split}/{label_set}")
                    continue
                scores[task] = s
                metrics.append({"task": task, "dataset": d, "label_set": label_set,
                                "split": split, "zero_shot": zero_shot,
                                **{k: v for k, v in s.items() if k != "per_label_f1"}})
    return scores, metrics, skipped
