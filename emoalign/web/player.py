"""The script that ties the Song tab's timeline to its player, in the browser only.

- Clicking a timeline cell moves the player to that segment's start (the audio element's
  currentTime; no server call, so nothing is analysed again).
- While the song plays (or is paused mid-song), the segment under the playhead is outlined
  and a thin line marks the playhead.
- The waveform is narrowed to the timeline's plot area, so both share one time axis, when the
  whole song fits it (Gradio's player scrolls longer songs at 20 px/s; it cannot be changed).

All three act only when the timeline belongs to the song in the player (same duration), and
re-attach themselves whenever Gradio redraws the timeline or the player.
"""

from __future__ import annotations

TICK_MS = 250  # how often the playhead is followed
MIN_PX_PER_SEC = 20  # Gradio 6's wavesurfer setting: longer songs scroll in the player

PLAYER_SCRIPT = """
(() => {
  const MIN_PX_PER_SEC = %d;  // Gradio's waveform player draws at least this much per second
  const plotOf = () => document.querySelector('#timeline .js-plotly-plot');
  const waveOf = () => document.querySelector('#song-audio #waveform');
  function mediaOf() {  // Gradio's waveform player keeps its <audio> in a shadow root
    for (const el of document.querySelectorAll('#song-audio *')) {
      const audio = el.shadowRoot && el.shadowRoot.querySelector('audio');
      if (audio) return audio;
    }
    return null;
  }
  function edgesOf(plot) {  // segment edges in seconds: the heatmap's x
    const trace = plot && plot._fullData && plot._fullData[0];
    return trace && trace.type === 'heatmap' && trace.x ? Array.from(trace.x, Number) : null;
  }
  function sameSong(edges, media) {
    return edges && media && Number.isFinite(media.duration) &&
      Math.abs(media.duration - edges[edges.length - 1]) < 1.5;
  }
  function hook(plot) {
    if (!plot.on || (plot._ev && plot._ev.listeners('plotly_click').length)) return;
    plot.on('plotly_click', (event) => {
      const point = event.points && event.points[0];
      const edges = edgesOf(plot), media = mediaOf();
      if (!point || !sameSong(edges, media)) return;
      const column = Array.isArray(point.pointIndex) ? point.pointIndex[1] : point.pointNumber[1];
      const start = edges[column];
      if (Number.isFinite(start)) media.currentTime = start;
    });
  }
  function box(plot, className) {
    let el = plot.querySelector(':scope > .' + className);
    if (!el) {
      el = document.createElement('div');
      el.className = className;
      plot.style.position = 'relative';
      plot.appendChild(el);
    }
    return el;
  }
  function mark(plot, edges, media) {
    const cell = box(plot, 'emo-now'), head = box(plot, 'emo-head');
    const t = media ? media.currentTime : 0;
    const show = sameSong(edges, media) && (!media.paused || t > 0);
    cell.style.display = head.style.display = show ? 'block' : 'none';
    if (!show) return;
    const xa = plot._fullLayout.xaxis, ya = plot._fullLayout.yaxis;
    let i = edges.findIndex((e, k) => k > 0 && t < e) - 1;
    if (i < 0) i = edges.length - 2;
    const left = xa._offset + xa.l2p(edges[i]), right = xa._offset + xa.l2p(edges[i + 1]);
    Object.assign(cell.style, {left: left + 'px', width: (right - left) + 'px',
                               top: ya._offset + 'px', height: ya._length + 'px'});
    Object.assign(head.style, {left: (xa._offset + xa.l2p(t)) + 'px',
                               top: ya._offset + 'px', height: ya._length + 'px'});
  }
  function align(plot, edges, media) {  // the waveform spans the timeline's plot area
    const wave = waveOf();
    if (!wave) return;
    const outer = wave.parentElement.getBoundingClientRect();
    let left = 0, right = 0;
    if (sameSong(edges, media)) {
      const xa = plot._fullLayout.xaxis, at = plot.getBoundingClientRect().left + xa._offset;
      left = at - outer.left;
      right = outer.right - (at + xa._length);
      // a waveform wider than the plot area scrolls instead: leave it whole
      if (media.duration * MIN_PX_PER_SEC > xa._length || left < 0 || right < 0) left = right = 0;
    }
    const style = getComputedStyle(wave);
    if (Math.abs(parseFloat(style.marginLeft) - left) > 1) wave.style.marginLeft = left + 'px';
    if (Math.abs(parseFloat(style.marginRight) - right) > 1) wave.style.marginRight = right + 'px';
  }
  function tick() {
    const plot = plotOf();
    if (!plot || !plot._fullLayout) return;
    hook(plot);
    const edges = edgesOf(plot), media = mediaOf();
    mark(plot, edges, media);
    align(plot, edges, media);
  }
  setInterval(tick, %d);
})();
""" % (MIN_PX_PER_SEC, TICK_MS)

PLAYER_CSS = """
#timeline .emo-now { position: absolute; pointer-events: none; box-sizing: border-box;
  border: 2px solid #fff; outline: 2px solid #111; z-index: 5; }
#timeline .emo-head { position: absolute; pointer-events: none; width: 2px; margin-left: -1px;
  background: #fff; box-shadow: 0 0 0 1px #111; z-index: 6; }
"""
