"""An ASGI guard around Gradio's upload route: a request Gradio itself cannot parse (a
multipart part with an empty file name raises TypeError inside Gradio 6, an HTTP 500 with a
traceback in the log) is answered 400 with a short reason instead. docs/security.md has the
reproduction reported upstream.

    demo.launch(app_kwargs={"middleware": [UPLOAD_GUARD]})
"""

from __future__ import annotations

import logging

from starlette.middleware import Middleware

log = logging.getLogger("emoalign.app")
UPLOAD_PATH = "/gradio_api/upload"
REASON = b"This upload could not be read: send each file as a multipart part with a file name."


class UploadGuard:
    """Pure ASGI middleware: exceptions of the upload route before any response become 400."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope.get("type") != "http" or not scope.get("path", "").endswith(UPLOAD_PATH):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as error:  # Gradio's own parsing failed
            if started:
                raise
            log.info("refused an upload Gradio could not parse: %r", error)
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": REASON})


UPLOAD_GUARD = Middleware(UploadGuard)
