"""Maps keyed by variable paths or regular expressions (LayoutMap, OptimizerMap): which key
a path falls under."""
from __future__ import annotations

import re
from typing import Callable, Iterable


def key_for_path(keys: Iterable[str], path: str,
                 several_match: Callable[[list], Exception]) -> str | None:
    """`path` when it is a key itself, else the one key whose regular expression matches all
    of `path`, else None.

    Args:
        keys: the map's keys, each a path or a regular expression.
        path: the variable path looked up.
        several_match: builds the error to raise from the list of keys when more than one
            matches (the map names itself and says how to fix it).

    Example:
        >>> key_for_path([".*kernel", "dense/bias"], "dense/kernel", ValueError)
        '.*kernel'
    """
    keys = list(keys)
    if path in keys:
        return path
    hits = [k for k in keys if re.fullmatch(k, path)]
    if len(hits) > 1:
        raise several_match(hits)
    return hits[0] if hits else None
