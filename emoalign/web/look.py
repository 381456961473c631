"""The page's theme and CSS: the answer card, local error boxes, and a layout that keeps the
tabs reachable and the answer above the fold on a 390-px phone, in light and dark mode."""

from __future__ import annotations

import gradio as gr

from .journey import CLICK_SCRIPT
from .player import PLAYER_CSS, PLAYER_SCRIPT

THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="pink")
# The timeline follows the player and seeks it on click (player.py); a click on the journey
# plane sets a journey's start or end (journey.py).
HEAD = f"<script>{PLAYER_SCRIPT}</script><script>{CLICK_SCRIPT}</script>"

CSS = PLAYER_CSS + """
#intro h1 { margin-bottom: 0.2em; }
.emo-bars { max-width: 760px; }
.emo-hero { padding: 0.4em 0.2em; }
.emo-hero .emo-song { margin: 0; opacity: 0.75; font-size: 0.9em; }
.emo-hero .emo-feels { margin: 0.2em 0 0.3em; font-size: 1.6em; line-height: 1.25; }
.emo-hero .emo-va { margin: 0 0 0.6em; }
.emo-hero .emo-quadrant { border: 2px solid; border-radius: 1em; padding: 0.05em 0.6em;
  font-weight: 600; margin-right: 0.3em; }
.emo-bars { list-style: none; padding: 0; margin: 0; }
.emo-bars li { display: grid; grid-template-columns: 9.5em 1fr 2.6em; grid-column-gap: 0.5em;
  align-items: center; margin: 0.15em 0; }
.emo-bars .emo-word { font-weight: 600; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; }
.emo-bars .emo-track { height: 0.9em; border-radius: 0.45em;
  background: var(--neutral-200, #e5e7eb); overflow: hidden; }
.dark .emo-bars .emo-track { background: var(--neutral-700, #374151); }
.emo-bars .emo-fill { display: block; height: 100%; border-radius: 0.45em; }
.dark .emo-hero .emo-feels b { filter: brightness(1.6); }  /* dark emotion colours, dark page */
.emo-bars .emo-value { font-variant-numeric: tabular-nums; text-align: right; }
.emo-bars .emo-meaning { grid-column: 2 / 4; font-size: 0.8em; opacity: 0.7;
  margin-top: -0.1em; }
.emo-bars li:nth-child(n+4) .emo-meaning { display: none; }
.emo-more, .emo-notice { font-size: 0.85em; opacity: 0.8; margin: 0.4em 0 0; }
.emo-empty p { opacity: 0.7; font-size: 1.1em; }
.emo-error div[role=alert] { border: 1px solid #e15759; border-left-width: 4px;
  border-radius: 6px; padding: 0.5em 0.8em; color: inherit;
  background: rgba(225, 87, 89, 0.08); }
#va-plane .modebar-container, #timeline .modebar-container { display: none; }
.js-plotly-plot .plotly .main-svg { background: transparent !important; }
@media (max-width: 640px) {
  .gradio-container { padding: 4px !important; }
  #intro h1 { font-size: 1.3em; }
  #intro p { display: none; }
  .emo-hero .emo-feels { font-size: 1.3em; }
  .emo-bars li { grid-template-columns: 7.5em 1fr 2.4em; }
  #tabs .tab-wrapper, #tabs [role=tablist] { overflow-x: auto; flex-wrap: nowrap; }
  #tabs [role=tab] { white-space: nowrap; }
}
"""
