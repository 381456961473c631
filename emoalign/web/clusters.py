"""Clusters tab: the label graph (text/label_graph.py, networkx) of the built-in vocabularies and
your words: Mean Shift clusters, links across vocabularies above a cosine you set, each of
your words joined to its nearest label. Built-in labels keep their stored places, so the
picture does not jump when a word is added; a found label lists its neighbours."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pandas as pd

from . import graph_plots, plots
from ..library.atlas import load_label_layout
from ..safety import escape_markdown
from ..text.clusters import PAPER_BANDWIDTH
from ..text.label_graph import DEFAULT_LINK, graph_positions, label_graph
from .common import vocabulary_choices
from .config import MODELS
from .errors import bind, error_box, local_errors
from .session import Session

CLUSTER_COLUMNS = ["cluster", "size", "labels", "vocabularies"]
NEIGHBOUR_COLUMNS = ["label", "cosine", "vocabularies", "link"]
WHAT_IS_A_CLUSTER = (
    "Each point is a label, coloured by its vocabulary. A **cluster** is a group of labels "
    "whose embeddings lie close together for the text model (Mean Shift): often near-synonyms, "
    "but also words that come up in the same contexts, opposites included (*slow* and *fast*), "
    "so read a cluster as *related*, not *the same*. Grey lines join a cluster; dotted lines "
    "join labels of **different vocabularies** whose cosine reaches the threshold you set, so "
    "you see which MTG tag lines up with which GEMS or CAL500 word. Your words are stars, "
    "joined to their nearest label with its cosine. Theme and use tags (film, christmas) are "
    "left out unless you ask for them; then they are open diamonds. Find a label to list its "
    "neighbours; click a neighbour to move to it.")


def positions(pipe, labels: list[str]) -> dict[str, np.ndarray]:
    """Built-in labels at their stored places (assets/labels/layout.safetensors); {} without
    a stored layout (the graph is then laid out by networkx alone)."""
    layout = load_label_layout()
    return {label: np.asarray(layout[label]) for label in labels if label in layout}


def cluster_labels(label_sets: list[str], words: str, bandwidth: float, estimate: bool,
                   session: Session, show_alone: bool = False, find: str = "",
                   link: float = DEFAULT_LINK, include_themes: bool = False):
    """The label graph of the chosen vocabularies plus your words.

    `estimate` true uses the paper's bandwidth estimate (quantile 0.03) and ignores
    `bandwidth`; `link` is the cosine from which labels of different vocabularies are joined;
    `include_themes` adds MTG's theme/use tags; `show_alone` also draws labels with no link at
    all (your words always are); `find` highlights a label and its neighbours and lists them.
    Returns: graph figure, cluster table, counts (markdown), the bandwidth used, neighbours.
    """
    pipe = MODELS.get(session.model)
    lg = label_graph(pipe.text, list(label_sets or []), words or "",
                     None if estimate else float(bandwidth), float(link), bool(include_themes))
    graph = lg.graph
    wanted = " ".join((find or "").lower().split())
    hit = next((n for n in graph if n.lower() == wanted), None) if wanted else None
    highlight = {hit, *graph[hit]} if hit else None
    shown = {n for n in graph if show_alone or graph.degree[n] or graph.nodes[n]["yours"]
             or n == hit}
    multi = sum(len(group) > 1 for group in lg.groups)
    cross = sum(d["kind"] == "cross" for *_, d in graph.edges(data=True))
    figure = graph_plots.label_graph_figure(
        graph, graph_positions(graph, positions(pipe, list(graph))), shown, highlight,
        title=f"{multi} clusters, {cross} links across vocabularies")
    table = pd.DataFrame([{"cluster": name, "size": len(group), "labels": "; ".join(group),
                           "vocabularies": "; ".join(dict.fromkeys(
                               v for label in group for v in graph.nodes[label]["vocabularies"]))}
                          for name, group in zip(lg.names, lg.groups)], columns=CLUSTER_COLUMNS)
    neighbours = pd.DataFrame([{"label": label, "cosine": round(cosine, 3),
                                "vocabularies": vocabularies, "link": LINK_WORDS[kind]}
                               for label, cosine, vocabularies, kind in lg.neighbours(hit)]
                              if hit else [], columns=NEIGHBOUR_COLUMNS)
    return figure, table, counts_text(lg, label_sets, words, estimate, show_alone, find, hit), \
        round(lg.clusters.bandwidth, 4), neighbours


LINK_WORDS = {"cluster": "same cluster", "cross": "across vocabularies",
              "nearest": "nearest built-in label"}


def counts_text(lg, label_sets, words, estimate, show_alone, find, hit) -> str:
    """The counts line, and where each of your words landed (user text escaped)."""
    graph, clusters = lg.graph, lg.clusters
    multi = sum(len(group) > 1 for group in lg.groups)
    hubs = ", ".join(f"{escape_markdown(label)} ({degree})" for label, degree in lg.hubs()
                     if degree)
    text = (f"**{len(clusters.labels)}** distinct labels from {len(label_sets or [])} "
            f"vocabularies{' + your words' if words and words.strip() else ''} -> "
            f"**{clusters.n_clusters}** clusters ({multi} with more than one label), "
            f"**{lg.components()}** separate groups in the graph, bandwidth "
            f"{clusters.bandwidth:.4f}"
            f"{' (estimated as in the paper, quantile 0.03)' if estimate else ''}."
            + (f" Best connected: {hubs}." if hubs else "")
            + ("" if show_alone else " Labels with no link are hidden."))
    for word in (n for n in graph if graph.nodes[n]["yours"]):
        near = [(o, d) for o, d in graph[word].items() if d["kind"] == "nearest"]
        if near:
            other, data = near[0]
            text += (f" *{escape_markdown(word)}* joins *{escape_markdown(other)}* (cosine "
                     f"{data['cosine']:.2f}, cluster '{escape_markdown(graph.nodes[other]['name'])}').")
    if find and find.strip() and hit is None:
        text += f" Not among the labels: '{escape_markdown(find.strip())}'."
    return text


def picked_label(evt: gr.SelectData) -> str:
    """The label of the neighbours-table row the visitor clicked."""
    row = evt.row_value or []
    return str(row[0]) if row else gr.skip()


def build(session: gr.State):
    """The clusters section; returns the event kwargs the app re-runs when the tab opens."""
    gr.Markdown(WHAT_IS_A_CLUSTER)
    with gr.Row():
        sets_in = gr.CheckboxGroup(vocabulary_choices()[:-1], value=["mtg", "cal500"],
                                   label="Label sets", min_width=300)
        cluster_words_in = gr.Textbox("", label="Add your own words", lines=1, min_width=220)
        find_in = gr.Textbox("", label="Find a label", lines=1, elem_id="cluster-find",
                             info="highlights it and lists its neighbours", min_width=220)
    with gr.Row():
        with gr.Column(min_width=260):
            bandwidth_in = gr.Slider(0.05, 1.5, value=PAPER_BANDWIDTH, step=0.0001,
                                     label="Mean Shift bandwidth",
                                     info=f"paper: {PAPER_BANDWIDTH} (its estimate on MTG + "
                                          f"CAL500)")
        with gr.Column(min_width=260):
            link_in = gr.Slider(0.3, 0.95, value=DEFAULT_LINK, step=0.01,
                                label="Link vocabularies from cosine",
                                info="joins labels of different vocabularies this similar")
        with gr.Column(min_width=260):
            estimate_in = gr.Checkbox(False, label="Estimate the bandwidth from the chosen "
                                                   "labels instead (quantile 0.03)",
                                      info="moving the slider turns this off")
            themes_in = gr.Checkbox(False, label="Include theme and use tags (film, christmas)")
            alone_in = gr.Checkbox(True, label="Show labels with no link")
    cluster_btn = gr.Button("Cluster", variant="primary")
    cluster_error = error_box("cluster-error")
    cluster_counts = gr.Markdown(elem_id="cluster-counts")
    cluster_plot = gr.Plot(plots.empty_figure("Press Cluster"), label="Label graph",
                           show_label=False, elem_id="cluster-graph")
    neighbours_out = gr.Dataframe(pd.DataFrame(columns=NEIGHBOUR_COLUMNS),
                                  label="Neighbours of the label you find", interactive=False,
                                  wrap=True, elem_id="cluster-neighbours")
    with gr.Accordion("Every cluster", open=False):
        cluster_table = gr.Dataframe(pd.DataFrame(columns=CLUSTER_COLUMNS), label="Clusters",
                                     interactive=False, wrap=True,
                                     column_widths=[200, 60, 420, 260])  # px: phones scroll
    event = dict(fn=cluster_labels, box=cluster_error, concurrency_limit=2,
                 concurrency_id="clusters",
                 inputs=[sets_in, cluster_words_in, bandwidth_in, estimate_in, session,
                         alone_in, find_in, link_in, themes_in],
                 outputs=[cluster_plot, cluster_table, cluster_counts, bandwidth_in,
                          neighbours_out])
    bind([cluster_btn.click, find_in.submit, alone_in.change, cluster_words_in.submit,
          themes_in.change, link_in.release], api_name="clusters", **event)
    # clicking a neighbour (any cell of its row) finds it in turn: a walk along the graph
    neighbours_out.select(picked_label, outputs=[find_in], queue=False,
                          api_visibility="private").then(
        local_errors(cluster_labels, 5), inputs=event["inputs"],
        outputs=[*event["outputs"], cluster_error], api_visibility="private")
    bandwidth_in.release(lambda: False, outputs=[estimate_in], queue=False,
                         api_visibility="private").then(
        local_errors(cluster_labels, 5), inputs=event["inputs"],
        outputs=[*event["outputs"], cluster_error], api_visibility="private")
    return event
