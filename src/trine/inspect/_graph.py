"""Graph helpers shared by summary, plot, conversion and comparison."""
from __future__ import annotations

import heapq

__all__ = ["ordered_nodes", "graph_node_index"]


def _draw_priority(layer):
    """The first random draw index among this layer and its sublayers (None if none drawn)."""
    best = None
    for sub in layer._flatten_layers():
        sg = getattr(sub, "_seed_gen", None)
        drawn = getattr(sg, "_drawn", None)
        if drawn is None or getattr(sg, "_explicit", None) is not None:
            continue
        best = drawn[1] if best is None else min(best, drawn[1])
    return best


def ordered_nodes(graph):
    """The graph's non-input nodes in a topological order that follows the original build
    (random-draw) order, so replaying them draws the same keys."""
    from trine.layers.core import InputLayer
    nodes = [n for n in graph._nodes if not isinstance(n.layer, InputLayer)]
    pos = {id(n): i for i, n in enumerate(nodes)}
    producer = {}
    for n in nodes:
        for t in n.output_tensors:
            producer[id(t)] = n
    deps = {id(n): {id(producer[id(t)]) for t in n.input_tensors if id(t) in producer}
            for n in nodes}
    users = {id(n): [] for n in nodes}
    for n in nodes:
        for d in deps[id(n)]:
            users[d].append(n)
    remaining = {k: len(v) for k, v in deps.items()}

    def prio(n):
        p = _draw_priority(n.layer)
        return (-1, 0, pos[id(n)]) if p is None else (0, p, pos[id(n)])

    heap = [(prio(n), pos[id(n)]) for n in nodes if remaining[id(n)] == 0]
    heapq.heapify(heap)
    by_pos = {pos[id(n)]: n for n in nodes}
    order = []
    while heap:
        _, p = heapq.heappop(heap)
        n = by_pos[p]
        order.append(n)
        for u in users[id(n)]:
            remaining[id(u)] -= 1
            if remaining[id(u)] == 0:
                heapq.heappush(heap, (prio(u), pos[id(u)]))
    return order


def graph_node_index(graph, node) -> int:
    """The index of `node` among its layer's nodes that belong to `graph` (0, 1, ...)."""
    ids = {id(n) for n in graph._nodes}
    own = [n for n in node.layer._inbound_nodes if id(n) in ids]
    for i, n in enumerate(own):
        if n is node:
            return i
    return node.index
