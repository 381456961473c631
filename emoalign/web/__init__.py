"""The app: its tabs (the only modules in emoalign that import gradio) and what only the app
uses: which models serve and the analysis cache (`models`), a visitor's songs (`session`), the
bundled examples, the figures and colours, and stoppable jobs. `app.py` assembles the page from
it. It may import every other folder; nothing else in emoalign imports it (only `app.py`,
tools/screenshots.py and the tests do)."""
