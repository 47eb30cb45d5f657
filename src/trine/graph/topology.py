"""The one walk over a layer graph, and the orders built on it.

A graph is the nodes (layer calls) that lead from a model's input tensors to its outputs.
`walk` visits them depth-first from the outputs, parents in argument order; the orders below
read its result:

- `execution_order`: the calls in an order that runs every parent first (Functional.call);
- `keras_graph` / `keras_layer_order`: the layers in Keras 3's `model.layers` order (deepest
  first, then in the order the walk reached them) and the nodes the model owns;
- `build_order`: the calls in the order they were first built, so replaying them draws the
  same random keys (summary, plot, conversion);
- `node_index`: which of its layer's calls inside a graph a node is.
"""
from __future__ import annotations

import heapq

from trine.layers.core import InputLayer

__all__ = ["build_order", "execution_order", "keras_graph", "keras_layer_order", "node_index",
           "walk"]


def walk(outputs, inputs=None, owner="the model"):
    """Visit the graph behind `outputs` depth-first.

    Args:
        outputs: the output tensors, in order.
        inputs: the graph's input tensors. When given, the walk checks the graph: reaching an
            `Input` that is not among them, or a node twice on one path, raises.
        owner: how errors name the graph (`"Model 'name'"`).

    Returns:
        `(nodes, layers)`: every node reached, each after its parents (the nodes of `Input`
        layers included), and the layers in the order the walk first reached them.

    Raises:
        ValueError: with `inputs`, for a disconnected graph or a cycle.
    """
    input_ids = None if inputs is None else {id(t) for t in inputs}
    finished, on_path, nodes, layers, seen_layers, reached = set(), set(), [], [], set(), []
    for out in outputs:
        stack = [(out, False)]
        while stack:
            t, expanded = stack.pop()
            hist = t._keras_history
            if hist is None:
                continue
            layer, ni, _ = hist
            node = layer._inbound_nodes[ni]
            if expanded:
                if id(node) not in finished:
                    finished.add(id(node))
                    on_path.discard(id(node))
                    nodes.append(node)
                    if not isinstance(layer, InputLayer):
                        reached.append(layer.name)
                continue
            if id(node) in finished:
                continue
            if input_ids is not None:
                _check_reached(t, layer, node, input_ids, on_path, reached, owner)
                on_path.add(id(node))
            if id(layer) not in seen_layers:
                seen_layers.add(id(layer))
                layers.append(layer)
            stack.append((t, True))
            if not isinstance(layer, InputLayer):
                for parent in reversed(node.input_tensors):
                    stack.append((parent, False))
    return nodes, layers


def _check_reached(t, layer, node, input_ids, on_path, reached, owner):
    if isinstance(layer, InputLayer) and id(t) not in input_ids:
        raise ValueError(
            f"Graph disconnected: cannot obtain value for tensor {t!r} at layer "
            f"'{layer.name}': it is an Input that is not among the model's inputs. "
            f"The following layers were reached without issue: {reached}. Add "
            f"'{layer.name}' to Model(inputs=[...]).")
    if id(node) in on_path:
        raise ValueError(f"{owner}: the graph has a cycle at layer '{layer.name}'.")


def execution_order(inputs, outputs, owner="the model") -> list:
    """The non-input nodes from `inputs` to `outputs`, each after its parents (checked: see
    `walk`)."""
    for t in outputs:
        if t._keras_history is None:
            raise ValueError(f"{owner}: output {t!r} was not produced by a layer.")
    nodes, _ = walk(outputs, inputs, owner)
    return [n for n in nodes if not isinstance(n.layer, InputLayer)]


def keras_graph(model):
    """(the layers of a Functional model in Keras 3's order, ids of the nodes it owns).

    Keras lists the layers by depth (the longest path to an output), deepest first; equal
    depths keep the order the walk reached them, and inputs the walk never reached go last.
    """
    post_order, reached = walk(model._output_tensors)
    visit_index = {id(layer): (i, layer) for i, layer in enumerate(reached)}
    node_depth, op_depth = {}, {}
    in_graph = {id(n) for n in post_order}
    for node in reversed(post_order):
        d = node_depth.setdefault(id(node), 0)
        d = max(d, op_depth.get(id(node.layer), 0))
        op_depth[id(node.layer)] = d
        node_depth[id(node)] = d
        if isinstance(node.layer, InputLayer):
            continue
        for t in node.input_tensors:
            pl, pni, _ = t._keras_history
            parent = pl._inbound_nodes[pni]
            if id(parent) in in_graph:
                node_depth[id(parent)] = max(d + 1, node_depth.get(id(parent), 0))
    own = set(in_graph)
    for t in model._input_tensors:
        layer, ni, _ = t._keras_history
        if id(layer) not in op_depth:
            op_depth[id(layer)] = 0
            visit_index[id(layer)] = (-1, layer)
            own.add(id(layer._inbound_nodes[ni]))
    layers = sorted((visit_index[k][1] for k in op_depth),
                    key=lambda l: (-op_depth[id(l)], visit_index[id(l)][0]))
    return layers, own


def keras_layer_order(model) -> list:
    """The layers of a Functional model in the order Keras 3 lists them (`model.layers`)."""
    return keras_graph(model)[0]


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


def build_order(graph) -> list:
    """The graph's non-input nodes in a topological order that follows the original build
    (random-draw) order, so replaying them draws the same keys."""
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


def node_index(graph, node) -> int:
    """The index of `node` among its layer's nodes that belong to `graph` (0, 1, ...)."""
    ids = {id(n) for n in graph._nodes}
    own = [n for n in node.layer._inbound_nodes if id(n) in ids]
    for i, n in enumerate(own):
        if n is node:
            return i
    return node.index
