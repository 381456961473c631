"""The Model accordion: switch this session's encoder and adapter (shipped, trained in the app,
uploaded as .safetensors + .json card, or, when not public, a path on the server)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import gradio as gr

from ..answer.adapter import available_adapters, stage_uploaded_adapter
from ..audio.encoders import DEFAULT_ENCODER, available_encoders
from ..audio.mert import MertWeightsError
from ..safety import UnsafeInput, escape_markdown, scrub_paths
from .common import status_text
from .config import MODELS, PUBLIC, TRAINED_DIR, UPLOADED_ADAPTERS
from .errors import bind, error_box
from .models import ModelChoice
from .session import Session

log = logging.getLogger("emoalign.app")
ADAPTER_DEFAULT = "default for the encoder"


def set_model(encoder: str, adapter: str, session: Session, adapter_files: list[str] | None = None,
              progress=gr.Progress()):
    """Switch this session to another encoder and/or adapter: a shipped name, or an uploaded
    adapter (`adapter_files`: its .safetensors and its .json card), or, when the app is not
    public, a .safetensors path on the server. Songs analysed with the same encoder are
    re-embedded without audio; songs from another encoder are dropped."""
    if encoder and encoder not in available_encoders():  # a name is never made into a path
        raise UnsafeInput(f"Unknown encoder; available: {', '.join(available_encoders())}.")
    if adapter_files:
        adapter = stage_adapter(adapter_files)
    elif not adapter or adapter == ADAPTER_DEFAULT:
        adapter = None
    else:
        adapter = resolve_adapter(adapter)
    return switch_model(ModelChoice(encoder or DEFAULT_ENCODER, adapter), session, progress)


def switch_model(choice: ModelChoice, session: Session, progress=None):
    try:
        pipe = MODELS.get(choice, progress)
    except (ValueError, FileNotFoundError, MertWeightsError) as error:  # refused adapter, no MERT
        log.warning("cannot load %s: %s", choice, error)
        raise gr.Error(f"Could not load {choice.encoder}: {scrub_paths(str(error))}",
                       print_exception=False)
    songs, dropped = {}, []
    for name, entry in session.songs.items():
        if entry.song.encoder == pipe.encoder.name:
            song = pipe.reembed(dataclasses.replace(entry.song))  # a copy: caches keep theirs
            songs[name] = dataclasses.replace(entry, song=song)
        else:
            dropped.append(name)
    current = session.current if session.current in songs else next(reversed(songs), None)
    session = dataclasses.replace(session, model=choice, songs=songs, current=current)
    message = status_text(session)
    if dropped:
        message += (f"\n\n{len(dropped)} song(s) analysed with another encoder were removed; "
                    f"analyse them again: {', '.join(escape_markdown(d) for d in dropped)}")
    return session, message


def use_trained(path: str | None, session: Session):
    """Switch to the adapter the last training run of this session saved (a server path the
    app itself chose, so public mode allows it)."""
    if not path:
        raise gr.Error("Train an adapter first.")
    return switch_model(ModelChoice(session.model.encoder, path), session)


def adapter_choices() -> list[str]:
    if PUBLIC:  # visitors' trained adapters stay theirs (Use this adapter)
        return [ADAPTER_DEFAULT] + available_adapters()
    trained = [str(TRAINED_DIR / f"{n}.safetensors") for n in available_adapters(TRAINED_DIR)]
    return [ADAPTER_DEFAULT] + available_adapters() + trained


def resolve_adapter(adapter: str) -> str:
    """A shipped name as it is; a path (refused in public mode) made absolute, so that every
    spelling of one file is one model."""
    if adapter in available_adapters():
        return adapter
    if PUBLIC:  # one answer whether or not the path exists: no oracle
        raise UnsafeInput(f"This public app does not open files on the server. Pick a shipped "
                          f"adapter ({', '.join(available_adapters())}) or upload one (its "
                          f".safetensors and .json card).")
    return str(Path(adapter).expanduser().resolve())


def stage_adapter(files: list[str]) -> str:
    """An uploaded adapter (its .safetensors and .json card), checked and stored by content."""
    paths = [Path(f) for f in files]
    weights = [p for p in paths if p.suffix.lower() == ".safetensors"]
    cards = [p for p in paths if p.suffix.lower() == ".json"]
    if len(weights) != 1 or len(cards) != 1:
        raise UnsafeInput("Upload an adapter as two files: its .safetensors weights and its "
                          ".json card.")
    return str(stage_uploaded_adapter(weights[0], cards[0], UPLOADED_ADAPTERS))


def build(session: gr.State, status: gr.Markdown):
    """The accordion; returns (the model event, the adapter dropdown)."""
    with gr.Accordion("Model", open=False):
        with gr.Row():
            encoder_in = gr.Dropdown(available_encoders(), value=ModelChoice().encoder,
                                     label="Encoder", info="musicnn runs offline on CPU; "
                                     "MERT-v1-95M needs its weights (GPU recommended)")
            adapter_in = gr.Dropdown(adapter_choices(), value=ModelChoice().adapter
                                     or ADAPTER_DEFAULT, label="Adapter", allow_custom_value=True)
            adapter_files_in = gr.File(label="...or upload one (.safetensors + .json card)",
                                       file_count="multiple", type="filepath",
                                       file_types=[".safetensors", ".json"], height=90)
            model_btn = gr.Button("Use this model")
        model_error = error_box("model-error")
    event = bind([model_btn.click], set_model, [encoder_in, adapter_in, session, adapter_files_in],
                 [session, status], model_error, api_name="set_model", concurrency_limit=1,
                 concurrency_id="audio")
    return event, adapter_in, model_error
