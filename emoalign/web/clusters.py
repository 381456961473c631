"""Explore tab, words side: Mean Shift clusters of the built-in vocabularies and your words,
drawn at fixed positions (built-in labels from the stored layout, your words placed among
them) so the picture does not jump when a word is added."""

from __future__ import annotations

import gradio as gr
import numpy as np
import pandas as pd

from .. import map_plots, plots
from ..atlas import load_label_layout, place
from ..clusters import PAPER_BANDWIDTH
from ..labels import load_label_set, parse_words
from ..session import Session
from .common import vocabulary_choices
from .config import MODELS
from .errors import bind, error_box, local_errors

CLUSTER_COLUMNS = ["cluster", "size", "labels", "vocabularies"]
WHAT_IS_A_CLUSTER = ("A **cluster** is a group of labels whose meanings lie close together for "
                     "the text model (Mean Shift over their embeddings): the model treats them "
                     "as near-synonyms, whichever dataset they come from.")


def positions(pipe, labels: list[str]) -> np.ndarray:
    """(n, 2): built-in labels at their stored places, any other word among its nearest."""
    layout = load_label_layout()
    xy = np.zeros((len(labels), 2))
    if not layout:  # no stored layout: a plain PCA of what is shown
        from ..projection import pca_2d
        return pca_2d(pipe.text.embed(labels, described=False))
    anchors = list(layout)
    new = [i for i, label in enumerate(labels) if label not in layout]
    for i, label in enumerate(labels):
        if label in layout:
            xy[i] = layout[label]
    if new:
        xy[new] = place(pipe.text.embed([labels[i] for i in new], described=False),
                        pipe.text.embed(anchors, described=False),
                        np.stack([layout[a] for a in anchors]), k=3)
    return xy


def cluster_labels(label_sets: list[str], words: str, bandwidth: float, estimate: bool,
                   session: Session, show_alone: bool = False, find: str = ""):
    """Mean Shift clusters of the chosen vocabularies plus your words.

    `estimate` true uses the paper's bandwidth estimate (quantile 0.03) and ignores
    `bandwidth`; `show_alone` also draws labels alone in their cluster (your words always
    are); `find` highlights a word and its cluster. Returns: graph, cluster table, counts
    (markdown), the bandwidth used.
    """
    pipe = MODELS.get(session.model)
    clusters = pipe.clusters(list(label_sets or []), words=words or (),
                             bandwidth=None if estimate else float(bandwidth))
    yours = set(parse_words(words)) if words and words.strip() else set()
    sources: dict[str, list[str]] = {}
    for name in label_sets or []:
        for label in load_label_set(name).labels:
            sources.setdefault(label, []).append(load_label_set(name).title)
    for label in clusters.labels:
        sources.setdefault(label, ["your words"])
    named = clusters.named_groups()  # numbered by size, largest first, in graph and table
    names, groups = [name for name, _ in named], [group for _, group in named]
    rank = {label: r for r, group in enumerate(groups) for label in group}
    assignments = [rank[label] for label in clusters.labels]
    sizes = {r: len(g) for r, g in enumerate(groups)}
    highlight = found(clusters.labels, assignments, find)
    shown = [show_alone or sizes[a] > 1 or label in yours or i in (highlight or ())
             for i, (label, a) in enumerate(zip(clusters.labels, assignments))]
    multi = sum(len(group) > 1 for group in groups)
    figure = map_plots.cluster_figure(
        clusters.labels, positions(pipe, clusters.labels), assignments, sources, shown, highlight,
        title=f"{multi} clusters of more than one label",
        names=names, named={i for i, label in enumerate(clusters.labels) if label in yours})
    table = pd.DataFrame([{"cluster": name, "size": len(group), "labels": "; ".join(group),
                           "vocabularies": "; ".join(dict.fromkeys(
                               s for label in group for s in sources[label]))}
                          for name, group in named], columns=CLUSTER_COLUMNS)
    counts = (f"**{len(clusters.labels)}** distinct labels from "
              f"{len(label_sets or [])} vocabularies{' + your words' if words else ''} -> "
              f"**{clusters.n_clusters}** clusters ({multi} with more than one label), "
              f"bandwidth {clusters.bandwidth:.4f}"
              f"{' (estimated as in the paper, quantile 0.03)' if estimate else ''}."
              + ("" if show_alone else " Labels alone in their cluster are hidden; hover a "
                 "point for its label.")
              + (f" Not among the labels: '{find.strip()}'." if find and find.strip()
                 and highlight is None else ""))
    return figure, table, counts, round(clusters.bandwidth, 4)


def found(labels: list[str], assignments: list[int], find: str) -> set[int] | None:
    """Indices of the label `find` names (case-insensitive) and of its cluster; None if absent."""
    wanted = " ".join((find or "").lower().split())
    hits = [i for i, label in enumerate(labels) if label.lower() == wanted]
    if not wanted or not hits:
        return None
    cluster = assignments[hits[0]]
    return {i for i, a in enumerate(assignments) if a == cluster}


def build(session: gr.State):
    """The clusters section; returns the event kwargs the app re-runs when the tab opens."""
    gr.Markdown(WHAT_IS_A_CLUSTER)
    with gr.Row():
        sets_in = gr.CheckboxGroup(vocabulary_choices()[:-1], value=["mtg", "cal500"],
                                   label="Label sets", min_width=300)
        cluster_words_in = gr.Textbox("", label="Add your own words", lines=1, min_width=220)
        find_in = gr.Textbox("", label="Find a word", lines=1, elem_id="cluster-find",
                             info="highlights it and its cluster", min_width=220)
    with gr.Row():
        with gr.Column(min_width=260):
            bandwidth_in = gr.Slider(0.05, 1.5, value=PAPER_BANDWIDTH, step=0.0001,
                                     label="Mean Shift bandwidth",
                                     info=f"paper: {PAPER_BANDWIDTH} (its estimate on MTG + "
                                          f"CAL500)")
        with gr.Column(min_width=260):
            estimate_in = gr.Checkbox(False, label="Estimate it from the chosen labels "
                                                   "instead (quantile 0.03)",
                                      info="moving the slider turns this off")
        with gr.Column(min_width=260):
            alone_in = gr.Checkbox(False, label="Show labels alone in their cluster")
    cluster_btn = gr.Button("Cluster", variant="primary")
    cluster_error = error_box("cluster-error")
    cluster_counts = gr.Markdown(elem_id="cluster-counts")
    cluster_plot = gr.Plot(plots.empty_figure("Press Cluster"), label="Cluster graph",
                           show_label=False, elem_id="cluster-graph")
    with gr.Accordion("Every cluster", open=False):
        cluster_table = gr.Dataframe(pd.DataFrame(columns=CLUSTER_COLUMNS), label="Clusters",
                                     interactive=False, wrap=True,
                                     column_widths=[200, 60, 420, 260])  # px: phones scroll
    event = dict(fn=cluster_labels, box=cluster_error, concurrency_limit=2,
                 concurrency_id="clusters",
                 inputs=[sets_in, cluster_words_in, bandwidth_in, estimate_in, session,
                         alone_in, find_in],
                 outputs=[cluster_plot, cluster_table, cluster_counts, bandwidth_in])
    bind([cluster_btn.click, find_in.submit, alone_in.change, cluster_words_in.submit],
         api_name="clusters", **event)
    bandwidth_in.release(lambda: False, outputs=[estimate_in], queue=False,
                         api_visibility="private").then(
        local_errors(cluster_labels, 4), inputs=event["inputs"],
        outputs=[*event["outputs"], cluster_error], api_visibility="private")
    return event
