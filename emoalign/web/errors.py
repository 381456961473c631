"""One place that turns exceptions into messages for people, and keeps them local.

In the page an error is shown by the widget concerned (an `error_box` next to it) and every
other output keeps what it showed; through the API the same message raises (gradio_client's
`AppError`). `bind` registers both for one action: a private event for the page and a named
endpoint (on a hidden button) for clients.
"""

from __future__ import annotations

import functools
import html
import inspect
import logging
from collections.abc import Callable

import gradio as gr

from ..audio.load import AudioError
from ..safety import scrub_paths

log = logging.getLogger("emoalign.app")
UNEXPECTED = "Something went wrong on the server (it is logged). Your other results are kept."


def user_message(error: Exception, where: str = "") -> str:
    """What the user reads about `error`: our own messages with any server path reduced to a
    file name; for anything unexpected only that it happened (the details go to the log)."""
    if isinstance(error, gr.Error):
        return scrub_paths(str(error.message))
    if isinstance(error, (AudioError, ValueError, FileNotFoundError, KeyError)):
        keyed = isinstance(error, KeyError) and error.args  # KeyError quotes its message
        log.info("refused in %s: %r", where, error)
        return scrub_paths(str(error.args[0]) if keyed else str(error))
    log.exception("unexpected error in %s", where)
    return UNEXPECTED


def user_errors(fn: Callable) -> Callable:
    """`fn` with any exception raised as a `gr.Error` carrying a message for people."""

    def translate(error: Exception) -> gr.Error:
        return gr.Error(user_message(error, fn.__name__), print_exception=False)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as error:
                raise translate(error) from error
        return generator

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as error:
            raise translate(error) from error
    return wrapper


def error_box(elem_id: str) -> gr.HTML:
    """Where one widget's error appears (hidden until there is one)."""
    return gr.HTML("", visible=False, elem_id=elem_id, elem_classes=["emo-error"])


def shown(message: str):
    return gr.update(value=f'<div role="alert">{html.escape(message)}</div>', visible=True)


def cleared():
    return gr.update(value="", visible=False)


def local_errors(fn: Callable, n_outputs: int) -> Callable:
    """`fn` returning its outputs plus its error box: cleared on success; on failure the
    message, and every other output skipped (earlier results stay)."""

    def as_tuple(result) -> tuple:
        return (result,) if n_outputs == 1 else tuple(result)

    def failed(error: Exception) -> tuple:
        return (*[gr.skip()] * n_outputs, shown(user_message(error, fn.__name__)))

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                for item in fn(*args, **kwargs):
                    yield (*as_tuple(item), cleared())
            except Exception as error:
                yield failed(error)
        return generator

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return (*as_tuple(fn(*args, **kwargs)), cleared())
        except Exception as error:
            return failed(error)
    return wrapper


def bind(triggers: list, fn: Callable, inputs: list, outputs: list, box: gr.HTML,
         api_name: str | None = None, **kwargs):
    """The page's event on `triggers` (errors in `box`) and, with `api_name`, the same action
    as an API endpoint that raises its errors. Returns the page's event (for `.then`)."""
    if api_name:
        gr.Button(visible=False).click(user_errors(fn), inputs=inputs, outputs=outputs,
                                       api_name=api_name, **kwargs)
    return gr.on(triggers, local_errors(fn, len(outputs)), inputs=inputs,
                 outputs=[*outputs, box], api_visibility="private", **kwargs)
