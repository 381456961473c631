"""The web app's tabs: the only part of emoalign that imports gradio. `app.py` assembles them."""
