"""`model.summary()`: Keras's table of layers, output shapes and parameter counts.

Functional and Sequential models list their graph; a subclassed model is traced (its `call`
run on abstract inputs with every layer call recorded), so it shows real output shapes too.
"""
from __future__ import annotations

import jax
import numpy as np

from trine.core.layer import CallRecorder, CallContext


def _fmt_shape(s):
    if isinstance(s, (list, tuple)) and s and isinstance(s[0], (list, tuple)):
        return ", ".join(_fmt_shape(e) for e in s)
    return "(" + ", ".join("None" if d is None else str(d) for d in s) + (",)" if len(s) == 1 else ")")


def _shapes(tree):
    leaves = jax.tree_util.tree_leaves(tree)
    shapes = [tuple(getattr(l, "shape", ())) for l in leaves]
    return shapes[0] if len(shapes) == 1 else shapes


def _count(layer):
    if not layer.built:
        return None
    return sum(int(np.prod(v.shape)) for v in layer.weights)


def _bytes(layer_list):
    return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in layer_list)


def _human(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024


def summary_rows(model):
    """[(name, type, output shape string, params, connected_to list, trainable)]."""
    from trine.layers.core import InputLayer
    from trine.models.functional import Functional
    from trine.models.sequential import Sequential

    graph = model._functional if isinstance(model, Sequential) else model
    rows = []
    if isinstance(graph, Functional):
        seen = set()
        for layer in graph.layers:
            if isinstance(model, Sequential) and isinstance(layer, InputLayer):
                continue
            nodes = [n for n in layer._inbound_nodes if any(n is m for m in graph._nodes)] \
                if not isinstance(layer, InputLayer) else layer._inbound_nodes[:1]
            shapes = [_shapes(n.output_tensors) for n in nodes] or [None]
            shape = shapes[0] if len(shapes) == 1 else shapes
            conn = []
            for n in nodes:
                for t in n.input_tensors:
                    src, ni, ti = t._keras_history
                    conn.append(f"{src.name}[{ni}][{ti}]")
            rows.append((layer.name, type(layer).__name__,
                         _fmt_shape(shape) if shape is not None else "?", _count(layer), conn,
                         layer.trainable))
            seen.add(id(layer))
        return rows, True
    # subclassed or unbuilt Sequential: trace the call if the input shape is known
    shape = getattr(model, "_build_input_shape", None) or getattr(model, "_traced_input_shape", None)
    calls = []
    if shape is not None and model.built:
        from trine.models.model import _placeholders
        spec = jax.tree_util.tree_map(
            lambda s: jax.ShapeDtypeStruct(tuple(7 if d is None else d for d in s.shape), s.dtype),
            _placeholders(shape), is_leaf=lambda x: hasattr(x, "shape"))
        direct = {id(l) for l in model._layers}
        try:
            with CallRecorder() as rec, CallContext(training=False, rng=jax.random.key(0),
                                                    collect_losses=True):
                jax.eval_shape(lambda x: model.call(x), spec)
            calls = [(l, o) for l, _, o in rec.calls if id(l) in direct]
        except Exception:  # untraceable call: fall back to the per-layer listing
            calls = []
    if calls:
        for layer, out in calls:
            s = _shapes(out)
            s = (None,) + tuple(s[1:]) if isinstance(s, tuple) and s else s
            rows.append((layer.name, type(layer).__name__, _fmt_shape(s), _count(layer), [],
                         layer.trainable))
        return rows, False
    for layer in model._layers:
        c = _count(layer)
        rows.append((layer.name, type(layer).__name__, "?", c if c is not None else "0 (unbuilt)",
                     [], layer.trainable))
    return rows, False


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None):
    rows, graph = summary_rows(model)
    from trine.models.functional import Functional
    show_conn = graph and isinstance(model, Functional) and not type(model).__name__ == "Sequential"
    headers = ["Layer (type)", "Output Shape", "Param #"]
    if show_conn:
        headers.append("Connected to")
    if show_trainable:
        headers.append("Trainable")
    table = []
    for name, typ, shape, params, conn, trainable in rows:
        r = [f"{name} ({typ})", shape, f"{params:,}" if isinstance(params, int) else str(params)]
        if show_conn:
            r.append(", ".join(conn) if conn else "-")
        if show_trainable:
            r.append("Y" if trainable else "N")
        table.append(r)
    widths = [max([len(h)] + [len(r[i]) for r in table]) + 2 for i, h in enumerate(headers)]
    if line_length:
        extra = line_length - sum(widths) - len(widths) - 1
        if extra > 0:
            widths[0] += extra
    out = print_fn or print

    def line(cells, sep="│"):
        parts = []
        for i, (c, w) in enumerate(zip(cells, widths)):
            parts.append(" " + (c.rjust(w - 2) if i == 2 else c.ljust(w - 2)) + " ")
        return sep + sep.join(parts) + sep

    lines = [f'Model: "{model.name}"',
             "┏" + "┳".join("━" * w for w in widths) + "┓",
             line(headers, "┃"),
             "┡" + "╇".join("━" * w for w in widths) + "┩"]
    for i, r in enumerate(table):
        lines.append(line(r))
        if i < len(table) - 1:
            lines.append("├" + "┼".join("─" * w for w in widths) + "┤")
    lines.append("└" + "┴".join("─" * w for w in widths) + "┘")
    built = model.built
    tw = model.trainable_weights if built else []
    nw = model.non_trainable_weights if built else []
    nt = sum(int(np.prod(v.shape)) for v in tw)
    nn = sum(int(np.prod(v.shape)) for v in nw)
    lines.append(f" Total params: {nt + nn:,} ({_human(_bytes(tw) + _bytes(nw))})")
    lines.append(f" Trainable params: {nt:,} ({_human(_bytes(tw))})")
    lines.append(f" Non-trainable params: {nn:,} ({_human(_bytes(nw))})")
    if getattr(model, "_opt_state", None) is not None:
        leaves = [l for l in jax.tree_util.tree_leaves(model._opt_state) if hasattr(l, "size")]
        no = sum(int(l.size) for l in leaves)
        lines.append(f" Optimizer params: {no:,} ({_human(sum(l.size * l.dtype.itemsize for l in leaves))})")
    if print_fn is None:
        print("\n".join(lines))
    else:
        for l in lines:
            out(l)
