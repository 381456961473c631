"""Train tab: a new adapter for the current encoder on the shipped datasets and/or your own
songs (uploaded audio or a zip plus a labels CSV; a server folder only when not public), with
live progress, the loss curve, Stop, and the test metrics."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd

from . import jobs, plots
from ..answer.adapter import prune_adapters
from ..learn.features import Stopped
from ..learn.split_sizes import split_warning, thin_splits
from ..safety import UnsafeInput, scrub_paths, stage_uploads
from ..text.clusters import PAPER_BANDWIDTH
from .common import gpu, session_id, whole_number
from .config import MODELS, PUBLIC, TRAIN_STAGING_PREFIX, TRAINED_DIR, TRAINED_KEEP, TRAINING
from .errors import bind, error_box
from .session import Session

METRIC_COLUMNS = ["dataset", "labels", "zero-shot", "f1_segment", "f1_song_vote", "f1_song_mean",
                  "roc_auc_song", "pr_auc_song"]
DEFAULT_LAMBDA = 1.0  # within the paper's 1-2.5, where the regulariser helped zero-shot transfer


def shipped_datasets() -> list[tuple[str, str]]:
    """(title, name) of each shipped dataset whose audio is here."""
    from ..learn.datasets import available_datasets, dataset_title
    return [(dataset_title(d), d) for d in available_datasets()]


def your_folder(folder: str, labels_csv: str | None, uploads: list[str] | None,
                staging: Path | None, columns: tuple[str, str, str, str]):
    """The visitor's songs as a folder dataset, or None when none were given."""
    from ..learn.folders import folder_dataset

    if not (folder or uploads or labels_csv):
        return None
    if not labels_csv or not (folder or uploads):
        raise gr.Error("To train on your own songs, give the labels CSV and the audio: upload "
                       "the files (or a zip)" + ("." if PUBLIC else ", or name a folder on the "
                                                               "server."))
    if uploads:
        stage_uploads(uploads, [Path(u).name for u in uploads], staging / "audio")
    file_column, labels_column, separator, split_column = columns
    return folder_dataset(staging / "audio" if uploads else folder, labels_csv,
                          (file_column or "").strip() or "file",
                          (labels_column or "").strip() or "labels", separator or ";",
                          (split_column or "").strip(), uploaded=bool(uploads))


@gpu
def train_adapter(datasets: list[str], targets: str, lam: float, bandwidth: float,
                  epochs: int, variant: str, session: Session, folder: str = "",
                  labels_csv: str | None = None, file_column: str = "file",
                  labels_column: str = "labels", separator: str = ";",
                  split_column: str = "split", uploads: list[str] | None = None,
                  request: gr.Request = None, progress=gr.Progress()):
    """Train an adapter on the chosen shipped datasets and/or your own songs with a labels
    CSV (no split column: a seeded 80/10/10 split). Your songs come as `uploads` (audio files
    or zips), or, when the app is not public, as a `folder` on the server. One job runs at a
    time (with a time cap in public mode); a cancelled request stops its job. Yields status
    (markdown), the loss curve and the test metrics; the last status names the saved adapter."""
    from ..learn.features import feature_path
    from ..learn.training import MAX_EPOCHS, TrainConfig

    max_epochs = whole_number(epochs, 1, MAX_EPOCHS, "Epochs")  # numbers first: nothing to undo
    folder = (folder or "").strip()
    shipped = [name for _, name in shipped_datasets()]
    unknown = [d for d in datasets or [] if d not in shipped]
    if unknown:  # a name is never made into a path
        raise gr.Error(f"Unknown dataset; the datasets here are: {', '.join(shipped) or 'none'}.")
    if folder and PUBLIC:
        raise UnsafeInput("This public app does not read folders on the server: upload the "
                          "audio files (or a zip of them) with the labels CSV.")
    staging = (Path(tempfile.mkdtemp(prefix=f"{TRAIN_STAGING_PREFIX}{os.getpid()}-"))
               if uploads else None)
    folders = []

    def cleanup() -> None:  # uploads and their features go with the job
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
            for f in folders:
                feature_path(session.model.encoder, f.dataset).unlink(missing_ok=True)

    try:
        mine = your_folder(folder, labels_csv, uploads, staging,
                           (file_column, labels_column, separator, split_column))
        folders += [mine] if mine is not None else []
        names = [*(datasets or []), *(f.dataset for f in folders)]
        if not names:
            raise gr.Error("Pick a dataset to train on, or give your songs and their labels CSV.")
        config = TrainConfig(datasets=tuple(names), encoder=session.model.encoder,
                             targets=targets, lam=float(lam), bandwidth=float(bandwidth),
                             max_epochs=max_epochs,
                             variant=variant)
        warning = " ".join(split_warning(f"your songs ({f.dataset})", thin_splits(f))
                           for f in folders).strip()
        job = TRAINING.start(session_id(request))
    except BaseException:
        cleanup()
        raise
    yield from run_job(config, folders, job, cleanup, progress, warning)


def chart(history: list[dict]):
    """The loss / validation curve with room for its axis labels, whole epochs on the x axis
    (one epoch is one point in the middle, not an axis of fractions)."""
    fig = plots.loss_curve(history)
    epochs = max((int(row.get("epoch", i + 1)) for i, row in enumerate(history)), default=1)
    fig.update_xaxes(range=[0.5, epochs + 0.5], automargin=True,
                     **({"dtick": 1} if epochs <= 20 else {}))
    fig.update_layout(yaxis=dict(automargin=True), yaxis2=dict(automargin=True))
    return fig


def stopped_message(job, epochs_done: int, max_epochs: int) -> str:
    """What a stopped job says: why, and where it was."""
    where = (f"after epoch {epochs_done} of {max_epochs}" if epochs_done
             else "while encoding the songs, before the first epoch")
    why = (f"it reached the time cap of {TRAINING.max_seconds / 60:g} min"
           if job.timed_out else "you pressed Stop")
    return f"Training stopped {where}: {why}. Nothing was saved."


def run_job(config, folders, job, cleanup, progress, warning: str = ""):
    """Stream a training job's progress; the last item names the saved adapter. `warning`
    (splits too small to mean much) stays at the top of the status throughout."""
    from ..learn.runs import run_training

    def work(emit):
        try:
            return run_training(
                config, MODELS.encoder(config.encoder), TRAINED_DIR, folders,
                progress=lambda fraction, message: emit((fraction, message)),
                on_epoch=emit, card={"trained_in": "app"}, should_stop=job.should_stop)
        finally:
            cleanup()

    rows: list[dict] = []
    try:
        with contextlib.closing(jobs.stream(work, job, TRAINING)) as events:
            for event in events:
                if event is None:  # no news: a moment where a cancelled request can end
                    yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
                elif isinstance(event, jobs.Done):
                    run = event.value
                elif isinstance(event, dict):
                    rows.append(event)
                else:  # every streamed status, not only the last, without server paths
                    fraction, message = event[0], scrub_paths(str(event[1]))
                    progress(fraction, desc=message)
                    yield (f"{warning}\n\n{message}" if warning else message,
                           chart(rows) if rows else gr.skip(), gr.skip(), gr.skip())
    except Stopped as error:
        raise gr.Error(stopped_message(job, len(rows), config.max_epochs)) from error
    status, *rest = finished(run)
    yield (f"{warning}\n\n{status}" if warning else status, *rest)


def finished(run):
    if PUBLIC:
        prune_adapters(TRAINED_DIR, TRAINED_KEEP)
    result = run.result
    metrics = pd.DataFrame([{"dataset": r["dataset"], "labels": r["label_set"],
                             "zero-shot": "yes" if r["zero_shot"] else "no",
                             **{k: round(float(r[k]), 4) for k in METRIC_COLUMNS[3:]}}
                            for r in run.metrics], columns=METRIC_COLUMNS)
    saved = run.path.stem if PUBLIC else run.path
    return (f"Done in {result.seconds:.0f} s: best epoch {result.best_epoch}, validation "
            f"macro-F1 {result.best_val_f1:.3f}. Saved **{saved}**. Press *Use this adapter* "
            f"to switch to it."
            + (f" Not evaluated (features not cached): {', '.join(run.skipped)}."
               if run.skipped else ""),
            chart(run.history), metrics, str(run.path))


def stop_training(request: gr.Request = None):
    """The Stop button: stop this session's training job. The job then ends within a batch
    and says where it stopped; with no job running, the status (a finished job's result) is
    left as it is and a notice says so."""
    if TRAINING.stop(session_id(request)):
        return "Stopping the training job..."
    gr.Info("No training job of yours is running.")
    return gr.skip()


def build(session: gr.State):
    """The tab; returns (the training event, the trained adapter's path state, Use button)."""
    datasets = shipped_datasets()
    gr.Markdown(
        "Train a new adapter for the current encoder on the shipped datasets' train splits "
        "and/or on your own songs (model selection on validation, results on test), then switch "
        "to it. One training job runs at a time"
        + (f", for at most {TRAINING.max_seconds / 60:.0f} min" if TRAINING.max_seconds else "")
        + "." + ("" if datasets else " No shipped data here: upload your songs and their "
                 "labels, or set `EMOALIGN_DATA` to a folder holding `emotify/` and/or `4q/`."))
    with gr.Accordion("Your songs: audio files (or a zip) plus a CSV of their labels",
                      open=not datasets):
        with gr.Row():
            uploads_in = gr.File(label="Audio files or a zip of them", file_count="multiple",
                                 type="filepath", height=120, scale=2)
            folder_in = gr.Textbox("", label="...or an audio folder on the server",
                                   placeholder="/data/my-songs", visible=not PUBLIC)
            labels_csv_in = gr.File(label="Labels CSV", file_types=[".csv"], type="filepath",
                                    height=120)
        with gr.Row():
            file_col_in = gr.Textbox("file", label="File column",
                                     info="path relative to the folder or zip")
            labels_col_in = gr.Textbox("labels", label="Labels column")
            separator_in = gr.Textbox(";", label="Label separator")
            split_col_in = gr.Textbox("split", label="Split column",
                                      info="train / validation / test; absent: random 80/10/10")
    with gr.Row():
        train_sets = gr.CheckboxGroup(datasets, value=[d for _, d in datasets][:1],
                                      label="Train on (shipped datasets)", min_width=300)
        targets_in = gr.Radio(["labels", "clusters"], value="labels", label="Targets",
                              info="label embeddings, or the centres of the label clusters",
                              min_width=240)
        variant_in = gr.Radio(["segment", "song"], value="segment", label="Adapter variant",
                              min_width=240)
    with gr.Row():
        lam_in = gr.Slider(0, 3, value=DEFAULT_LAMBDA, step=0.1, label="lambda",
                           info="weight of the alignment regulariser (paper: 1-2.5; 0: off)",
                           min_width=260)
        train_bw_in = gr.Slider(0.05, 1.5, value=PAPER_BANDWIDTH, step=0.0001,
                                label="Cluster bandwidth", info="for cluster targets",
                                min_width=260)
        epochs_in = gr.Slider(1, 100, value=20, step=1, label="Epochs (at most)",
                              info="stops early when validation stops improving", min_width=260)
    with gr.Row():
        train_btn = gr.Button("Train", variant="primary", scale=3)
        stop_btn = gr.Button("Stop", variant="stop")
    train_error = error_box("train-error")
    train_status = gr.Markdown(elem_id="train-status")
    loss_plot = gr.Plot(plots.empty_figure("Loss curve"), label="Training", show_label=False)
    metrics_out = gr.Dataframe(pd.DataFrame(columns=METRIC_COLUMNS), label="Test metrics",
                               interactive=False, column_widths=[150] + [135] * 7)  # px
    use_btn = gr.Button("Use this adapter")
    trained_path = gr.State(None)
    training = bind(
        [train_btn.click], train_adapter,
        [train_sets, targets_in, lam_in, train_bw_in, epochs_in, variant_in, session, folder_in,
         labels_csv_in, file_col_in, labels_col_in, separator_in, split_col_in, uploads_in],
        [train_status, loss_plot, metrics_out, trained_path], train_error, api_name="train",
        concurrency_limit=2, concurrency_id="train")  # the second one hears "busy" at once
    # no `cancels`: the job is asked to stop and ends within a batch, so its last message can
    # say where it stopped (closing the page still cancels the request, which stops it too)
    stop_btn.click(stop_training, outputs=[train_status], api_name="stop_training", queue=False)
    return training, trained_path, use_btn
