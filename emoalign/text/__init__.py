"""Words: the text model (all-MiniLM-L6-v2 from its PyPI package, in plain torch), the built-in
label sets and the parsing of typed words, Mean Shift clusters of labels, and the label graph
the Clusters tab draws. It imports nothing else from emoalign but the floor (`paths`, `cache`,
`lazy`)."""

from ..lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    "TextEncoder": "encoder", "LabelSet": "labels", "available_label_sets": "labels",
    "load_label_set": "labels", "parse_words": "labels", "LabelClusters": "clusters",
    "label_clusters": "clusters", "label_graph": "label_graph",
})
