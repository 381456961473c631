"""The label graph of the Clusters tab, built with networkx: labels are nodes, and edges join
labels of one Mean Shift cluster, pairs from different vocabularies whose cosine reaches a
threshold, and each of your words to its nearest built-in label. So a reader sees which MTG tag
lines up with which GEMS or CAL500 word, and where a typed word lands.

Nodes carry `vocabularies` (titles), `emotion` (False for MTG's theme/use tags such as film or
christmas: a use, not a feeling), `yours`, `cluster` (index, largest cluster 0) and `name`
(the cluster's name). Edges carry `cosine` and `kind`: "cluster", "cross" or "nearest".
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from .clusters import LabelClusters, label_clusters
from .labels import is_emotion, load_label_set, parse_words

DEFAULT_LINK = 0.55  # cosine from which two labels of different vocabularies are joined
YOUR_WORDS = "your words"


@dataclass
class LabelGraph:
    graph: nx.Graph
    clusters: LabelClusters
    names: list[str]  # cluster index (largest first) -> its name
    groups: list[list[str]]  # cluster index -> its labels, most central first

    def neighbours(self, label: str) -> list[tuple[str, float, str, str]]:
        """(label, cosine, vocabularies, link kind) of `label`'s neighbours, closest first."""
        rows = [(other, float(data["cosine"]),
                 "; ".join(self.graph.nodes[other]["vocabularies"]), data["kind"])
                for other, data in self.graph[label].items()]
        return sorted(rows, key=lambda row: -row[1])

    def hubs(self, n: int = 3) -> list[tuple[str, int]]:
        """The `n` best-connected labels and their degrees."""
        return sorted(self.graph.degree, key=lambda pair: (-pair[1], pair[0]))[:n]

    def components(self) -> int:
        """How many separate groups the graph has (labels joined by any edge)."""
        return nx.number_connected_components(self.graph)


def vocabulary_labels(label_sets: list[str], include_themes: bool) -> dict[str, list[str]]:
    """Built-in label -> titles of the chosen vocabularies that hold it (theme/use tags left
    out unless `include_themes`)."""
    sources: dict[str, list[str]] = {}
    for name in label_sets:
        label_set = load_label_set(name)
        for label in label_set.labels:
            if include_themes or is_emotion(label):
                sources.setdefault(label, []).append(label_set.title)
    return sources


def label_graph(text, label_sets: list[str], words: str = "", bandwidth: float | None = None,
                link: float = DEFAULT_LINK, include_themes: bool = False) -> LabelGraph:
    """Cluster the chosen vocabularies plus `words` (Mean Shift; `bandwidth` None: the paper's
    estimate) and build the graph. `text` is a TextEncoder (bare labels, as clustering uses)."""
    sources = vocabulary_labels(list(label_sets or []), include_themes)
    yours = [w for w in parse_words(words) if w not in sources] if words and words.strip() else []
    labels = [*sources, *yours]
    if not labels:
        raise ValueError("Pick at least one label set or type some words.")
    clusters = label_clusters(labels, text.embed(labels, described=False), bandwidth)
    named = clusters.named_groups()
    rank = {label: r for r, (_, group) in enumerate(named) for label in group}
    unit = clusters.embeddings / np.linalg.norm(clusters.embeddings, axis=1,
                                                keepdims=True).clip(1e-12)
    cosines = unit @ unit.T
    graph = nx.Graph()
    for label in clusters.labels:
        graph.add_node(label, vocabularies=sources.get(label, [YOUR_WORDS]),
                       emotion=is_emotion(label), yours=label not in sources,
                       cluster=rank[label], name=named[rank[label]][0])
    index = {label: i for i, label in enumerate(clusters.labels)}
    for i, a in enumerate(clusters.labels):
        for j in range(i + 1, len(clusters.labels)):
            b = clusters.labels[j]
            if rank[a] == rank[b]:
                graph.add_edge(a, b, cosine=float(cosines[i, j]), kind="cluster")
            elif (float(cosines[i, j]) >= link and not graph.nodes[a]["yours"]
                  and not graph.nodes[b]["yours"]
                  and not set(graph.nodes[a]["vocabularies"]) & set(graph.nodes[b]["vocabularies"])):
                graph.add_edge(a, b, cosine=float(cosines[i, j]), kind="cross")
    built_in = [index[label] for label in sources]
    for word in yours:  # each typed word joins its nearest built-in label, whatever the cosine
        if built_in:
            near = max(built_in, key=lambda k: cosines[index[word], k])
            if not graph.has_edge(word, clusters.labels[near]):
                graph.add_edge(word, clusters.labels[near],
                               cosine=float(cosines[index[word], near]), kind="nearest")
    return LabelGraph(graph, clusters, [name for name, _ in named], [g for _, g in named])


def graph_positions(graph: nx.Graph, fixed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """(x, y) of every node: labels in `fixed` (the stored label layout) stay where they are,
    the others (your words) are placed by a spring layout pulled by their edges."""
    free = [node for node in graph if node not in fixed]
    if not fixed:
        return nx.spring_layout(graph, weight="cosine", seed=0)
    pos = {node: np.asarray(fixed[node], float) for node in graph if node in fixed}
    if not free:
        return pos
    for node in free:  # start beside the neighbours (their mean), so the spring has little to do
        near = [pos[n] for n in graph[node] if n in pos]
        pos[node] = np.mean(near, axis=0) if near else np.mean(list(pos.values()), axis=0)
    span = float(np.ptp(np.stack(list(pos.values())), axis=0).max()) or 1.0
    anchored = [node for node in graph if node in fixed]
    return nx.spring_layout(graph, pos=pos, fixed=anchored or None, weight="cosine", seed=0,
                            k=span / max(len(graph), 1) ** 0.5, iterations=30)
