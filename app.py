"""EmoAlign web app: read a song's emotions, score your own words, explore songs and labels.

Assembles the page from the tabs in `emoalign/web/` (the only modules that import gradio) and
launches it; every number comes from `emoalign.answer.pipeline.EmotionPipeline`.

    python app.py                   # http://127.0.0.1:7860, offline, musicnn + shipped adapter
    python app.py --port 7861 --host 0.0.0.0

Environment: GRADIO_SERVER_PORT / GRADIO_SERVER_NAME (as Gradio reads them),
EMOALIGN_ENCODER and EMOALIGN_ADAPTER (the model a new session starts with; the adapter is a
shipped name or a .safetensors path), EMOALIGN_MAX_SECONDS (song length cap, default 15 min),
EMOALIGN_TRAINED (where adapters trained in the app are written), EMOALIGN_PRELOAD=0 (do not
warm the default model at start-up), EMOALIGN_DATA (the shared data folder for the Train tab),
EMOALIGN_PUBLIC=1 (public mode; on by default when SPACE_ID is set: no server paths, uploads
only), EMOALIGN_MAX_UPLOAD_MB (per file, default 200), EMOALIGN_TRAIN_MAX_SECONDS (time cap
of a training job; default 1800 in public mode, none locally), EMOALIGN_LIBRARY_LIMIT (songs
kept per session, default 100), EMOALIGN_LIBRARY (an indexed library the Explore tab browses
too, when not public; default ~/.emoalign/library.db).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading

import gradio as gr

from emoalign.web.examples import EXAMPLES_DIR
from emoalign.web.models import MODEL_CACHE_SIZE, ModelChoice, Models  # noqa: F401
from emoalign.web import clusters, explore, model_panel, song, train, words
from emoalign.web.common import end_session, song_choices, status_text
from emoalign.web.session import Session
from emoalign.web.config import (EXAMPLES, LIBRARY_LIMIT, MAX_UPLOAD_MB, MODELS,  # noqa: F401
                                 PRELOAD, PUBLIC, seed_examples, spaces)
from emoalign.web.errors import local_errors
from emoalign.web.guard import UPLOAD_GUARD
from emoalign.web.look import CSS, HEAD, THEME

log = logging.getLogger("emoalign.app")

INTRO = """# EmoAlign: music emotions in your own words
Pick an example or upload a song: EmoAlign says how it feels, in any words you like."""
WARM_WORDS = ["calm", "happy", "sad", "tense", "wistful"]


def build_app() -> gr.Blocks:
    with gr.Blocks(title="EmoAlign", analytics_enabled=False,
                   delete_cache=(600, 1800)) as demo:  # Gradio's cache: files go after 30 min
        session = gr.State(Session(limit=LIBRARY_LIMIT))
        gr.Markdown(INTRO, elem_id="intro")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Song", id="song"):
                song_events = song.build(session)
            with gr.Tab("Your words", id="words"):
                words_song = words.build(session)
            with gr.Tab("Explore", id="map") as map_tab:
                like_song, map_event = explore.build(session)
            with gr.Tab("Clusters", id="clusters") as clusters_tab:
                cluster_event = clusters.build(session)
            with gr.Tab("Train", id="train"):
                training, trained_path, use_btn = train.build(session)
        status = gr.Markdown(elem_id="status")
        model_event, adapter_in, model_error = model_panel.build(session, status)
        gr.Markdown("API: see *Use via API* at the bottom of the page, or docs/app.md.")

        refresh = dict(fn=song_choices, inputs=[session], outputs=[words_song, like_song],
                       api_visibility="private", queue=False)
        show_status = dict(fn=status_text, inputs=[session], outputs=[status],
                           api_visibility="private", queue=False)
        demo.load(**show_status)
        for event in song_events:
            event.then(**refresh).then(**show_status)
        model_event.then(**refresh)
        on_open(map_tab, map_event)
        on_open(clusters_tab, cluster_event)
        training.then(lambda: gr.update(choices=model_panel.adapter_choices()),
                      outputs=[adapter_in], api_visibility="private", queue=False)
        use_btn.click(local_errors(model_panel.use_trained, 2), inputs=[trained_path, session],
                      outputs=[session, status, model_error],
                      api_visibility="private").then(**refresh)
        demo.unload(end_session)
    return demo


def on_open(tab: gr.Tab, event: dict) -> None:
    """Draw a tab's figure when it is opened (errors in its own box)."""
    fn, box = event["fn"], event["box"]
    tab.select(local_errors(fn, len(event["outputs"])), inputs=event["inputs"],
               outputs=[*event["outputs"], box], api_visibility="private",
               concurrency_limit=event.get("concurrency_limit"),
               concurrency_id=event.get("concurrency_id"))


def preload() -> None:
    """Warm the default model and the text model in the background, so that the first song
    and the first word are answered without loading anything."""
    def warm() -> None:
        MODELS.warm(ModelChoice(), WARM_WORDS)
        log.info("warm: default model loaded")
    threading.Thread(target=warm, daemon=True).start()


def stop(signum, frame) -> None:
    raise KeyboardInterrupt


demo = build_app()

if spaces is not None and os.environ.get("SPACES_ZERO_GPU"):
    # ZeroGPU runs each @spaces.GPU call in a fork of this process: load the model here, once.
    MODELS.get(ModelChoice())

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=None,
                        help="default: $GRADIO_SERVER_PORT or 7860")
    parser.add_argument("--host", default=None, help="default: $GRADIO_SERVER_NAME or 127.0.0.1")
    args = parser.parse_args()
    # SIGTERM ends the app as Ctrl+C does: Gradio closes its server, atexit removes our temp
    # folders (the default SIGTERM ends the process without either).
    signal.signal(signal.SIGTERM, stop)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    log.info("%d precomputed example(s)", seed_examples())
    if PRELOAD:
        preload()
    # Public: only our own messages (gr.Error) reach a visitor; Gradio's own, such as "Cannot
    # move <working folder>/file:/etc/passwd ..." for a path sent in place of an upload, do
    # not (docs/security.md).
    demo.queue(max_size=64, default_concurrency_limit=2).launch(
        server_name=args.host, server_port=args.port, show_error=not PUBLIC, theme=THEME, css=CSS,
        head=HEAD, allowed_paths=[str(EXAMPLES_DIR)], max_file_size=f"{MAX_UPLOAD_MB}mb",
        app_kwargs={"middleware": [UPLOAD_GUARD]})  # Gradio's unparsable uploads: 400
