"""Whether a labelled dataset's evaluation splits are big enough for their scores to mean
anything: a validation macro-F1 of 1.000 on one song is noise, and the Train tab says so."""

from __future__ import annotations

MIN_SONGS_PER_LABEL = 5  # below this many songs of a label in a split, its F1 is mostly luck
EVALUATION_SPLITS = ("validation", "test")


def thin_splits(tracks, minimum: int = MIN_SONGS_PER_LABEL) -> list[str]:
    """One plain sentence for each evaluation split of `tracks` (a datasets.Tracks) in which a
    label has fewer than `minimum` songs, e.g. "validation: 2 songs; 9 of its 9 labels have
    fewer than 5 songs (amazement, calmness, ...)". Empty when every split is big enough."""
    from .datasets import ground_truth

    labels = list(tracks.spec.labels())
    truth = ground_truth(tracks, tracks.spec.label_set, labels)
    sentences = []
    for split in EVALUATION_SPLITS:
        rows = tracks.splits == split
        counts = truth[rows].sum(axis=0)
        few = [label for label, count in zip(labels, counts) if count < minimum]
        if few:
            named = ", ".join(few[:4]) + (", ..." if len(few) > 4 else "")
            sentences.append(f"{split}: {int(rows.sum())} song(s); {len(few)} of its "
                             f"{len(labels)} labels have fewer than {minimum} songs ({named})")
    return sentences


def split_warning(name: str, sentences: list[str], minimum: int = MIN_SONGS_PER_LABEL) -> str:
    """The warning the Train tab shows for dataset `name` (empty when there is nothing to say)."""
    if not sentences:
        return ""
    return (f"**Too few songs to mean much** in {name}: " + "; ".join(sentences)
            + f". Scores measured on so few songs (even a macro-F1 of 1.000) are mostly luck: "
              f"aim for at least {minimum} songs per label in validation and in test.")
