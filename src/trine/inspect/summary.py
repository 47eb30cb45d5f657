"""`model.summary()`: Keras's table of layers, output shapes and parameter counts.

- Sequential and Functional models list their graph, as Keras does (a "Connected to" column
  when the graph is not a simple chain).
- A subclassed model is traced (`trine.inspect.trace`): its `call` runs once on symbolic
  inputs and every layer call is listed, in call order, with its real output shape; a layer
  called twice appears twice. When the call cannot be traced, the table falls back to one
  row per layer with the shapes that a shape-only run (or a run on a batch of zeros) shows,
  and a note says why tracing failed.
"""
from __future__ import annotations

import re
import shutil
import textwrap

import jax
import numpy as np

from trine.core.layer import CallContext, CallRecorder

__all__ = ["print_summary", "summary_rows", "summary_text"]


# ------------------------------------------------------------------------------------------
# formatting helpers
def format_shape(shape) -> str:
    """`(None, 784)` for a shape; shapes of several tensors are joined with ', '."""
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {format_shape(v)}" for k, v in shape.items()) + "}"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (
        ",)" if len(shape) == 1 else ")")


def _out_shape_of_node(node):
    shapes = [tuple(t.shape) for t in node.output_tensors]
    if len(shapes) == 1:
        return shapes[0]
    struct = jax.tree_util.tree_unflatten(node._out_treedef, shapes) if hasattr(
        node, "_out_treedef") else shapes
    if isinstance(struct, tuple) and not all(isinstance(d, (int, type(None))) for d in struct):
        struct = list(struct)
    return struct


def _count(layer):
    if not layer.built:
        return None
    return sum(int(np.prod(v.shape)) for v in layer.weights)


def _params_str(layer) -> str:
    n = _count(layer)
    if n is None:
        return "0 (unbuilt)"
    return f"{n:,}"


def _trainable_str(layer) -> str:
    if not layer.built or not layer.weights:
        return "-"
    return "Y" if layer.trainable else "N"


def _bytes(weights):
    seen, total = set(), 0
    for v in weights:
        if id(v) in seen:
            continue
        seen.add(id(v))
        total += int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize
    return total


def readable_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} TB"


class Row:
    """One line of the table."""

    __slots__ = ("layer", "label", "shape", "params", "conn", "trainable", "level")

    def __init__(self, layer, shape, params, conn="-", level=0, label=None):
        self.layer = layer
        self.level = level
        prefix = ("   " * level + "└ ") if level else ""
        self.label = prefix + (label or f"{layer.name} ({type(layer).__name__})")
        self.shape = shape
        self.params = params
        self.conn = conn
        self.trainable = _trainable_str(layer)

    def as_tuple(self):
        return (self.layer.name, type(self.layer).__name__, self.shape, self.params, self.conn,
                self.trainable)

    def __repr__(self):
        return f"Row({self.label!r}, {self.shape!r}, {self.params!r}, {self.conn!r})"


# ------------------------------------------------------------------------------------------
# rows for each kind of model
def _is_chain(g) -> bool:
    """Keras's "sequential-like": one input, no merges, no branches, no shared layers."""
    from trine.layers.core import InputLayer
    if len(g._input_tensors) != 1 or len(g._output_tensors) != 1:
        return False
    seen, consumers = set(), {}
    for n in g._nodes:
        if isinstance(n.layer, InputLayer):
            continue
        if id(n.layer) in seen or len(n.input_tensors) != 1:
            return False
        seen.add(id(n.layer))
        t = n.input_tensors[0]
        consumers[id(t)] = consumers.get(id(t), 0) + 1
        if consumers[id(t)] > 1:
            return False
    return True


def _conn(g, node):
    from trine.graph.topology import node_index
    out = []
    for t in node.input_tensors:
        src, ni, ti = t._keras_history
        src_node = src._inbound_nodes[ni]
        out.append(f"{src.name}[{node_index(g, src_node)}][{ti}]")
    return out


def _nested_rows(layer, level, input_shapes, expand_nested):
    """Rows for the inside of a nested model (expand_nested)."""
    from trine.models.model import Model
    if not expand_nested or not isinstance(layer, Model):
        return []
    try:
        rows, _, _ = _model_rows(layer, level + 1, expand_nested, input_hint=input_shapes,
                                 nested=True)
    except Exception:  # a nested model that cannot be listed: show it as one row
        return []
    return rows


def _functional_rows(g, level, expand_nested, skip_inputs):
    from trine.layers.core import InputLayer
    node_ids = {id(n) for n in g._nodes}
    rows = []
    for layer in g.layers:
        if skip_inputs and isinstance(layer, InputLayer):
            continue
        nodes = [n for n in layer._inbound_nodes if id(n) in node_ids]
        if isinstance(layer, InputLayer):
            nodes = nodes or layer._inbound_nodes[:1]
        shapes = [_out_shape_of_node(n) for n in nodes]
        distinct = []
        for s in shapes:
            if s not in distinct:
                distinct.append(s)
        shape = "; ".join(format_shape(s) for s in distinct) if distinct else "?"
        conn = [c for n in nodes for c in _conn(g, n)]
        rows.append(Row(layer, shape, _params_str(layer), ", ".join(conn) or "-", level))
        if nodes:
            ins = [tuple(t.shape) for t in nodes[0].input_tensors]
            rows.extend(_nested_rows(layer, level, ins, expand_nested))
    return rows


def _traced_rows(g, level, expand_nested):
    """One row per layer call, in call order, for a traced subclassed model."""
    from trine.graph.topology import build_order
    rows, seen = [], set()
    for n in build_order(g):
        layer = n.layer
        again = id(layer) in seen
        seen.add(id(layer))
        params = "(shared)" if again else _params_str(layer)
        rows.append(Row(layer, format_shape(_out_shape_of_node(n)), params,
                        ", ".join(_conn(g, n)) or "-", level))
        if not again:
            rows.extend(_nested_rows(layer, level, [tuple(t.shape) for t in n.input_tensors],
                                     expand_nested))
    return rows


def _recorded_shapes(model, spec_shape):
    """[(layer, output shape)] for direct sublayer calls, from a shape-only run or, failing
    that, a run on a batch of zeros; [] when neither works."""
    from trine.core.shapes import placeholders
    direct = {id(l) for l in model._layers}

    def batch1(s):
        return tuple(1 if d is None else d for d in s)

    placeholders = placeholders(spec_shape)
    structs = jax.tree_util.tree_map(
        lambda t: jax.ShapeDtypeStruct(batch1(t.shape), t.dtype), placeholders,
        is_leaf=lambda x: hasattr(x, "shape"))
    for attempt in ("abstract", "zeros"):
        try:
            with CallRecorder() as rec, CallContext(training=False, rng=jax.random.key(0),
                                                    collect_losses=True):
                if attempt == "abstract":
                    jax.eval_shape(lambda x: model.call(x), structs)
                else:
                    zeros = jax.tree_util.tree_map(
                        lambda s: jax.numpy.zeros(s.shape, s.dtype), structs)
                    model.call(zeros)
        except Exception:  # this way of running the call failed; try the next
            continue
        out = []
        for layer, _, o in rec.calls:
            if id(layer) not in direct:
                continue
            leaves = jax.tree_util.tree_leaves(o)
            shapes = [(None,) + tuple(l.shape[1:]) if getattr(l, "ndim", 0) else tuple(l.shape)
                      for l in leaves]
            out.append((layer, shapes[0] if len(shapes) == 1 else shapes))
        return out
    return []


def _model_rows(model, level, expand_nested, input_hint=None, nested=False):
    """(rows, show_connections, note)."""
    from trine.inspect.trace import TraceError, trace
    from trine.models.functional import Functional
    from trine.models.sequential import Sequential

    if isinstance(model, Sequential):
        if model._functional is not None:
            return _functional_rows(model._functional, level, expand_nested, True), False, None
        rows = [Row(l, "?", _params_str(l), level=level) for l in model.layers]
        return rows, False, None
    if isinstance(model, Functional):
        chain = _is_chain(model)
        return _functional_rows(model, level, expand_nested, nested), not chain, None
    # subclassed: trace
    shape = getattr(model, "_build_input_shape", None)
    spec = shape
    if spec is None and input_hint:
        spec = input_hint[0] if len(input_hint) == 1 else list(input_hint)
    if spec is None:
        rows = [Row(l, "?", _params_str(l), level=level) for l in model._layers]
        note = ("The model is not built, so output shapes are unknown: call "
                "model.build(input_shape) or call it on a batch of data.")
        return rows, False, note
    try:
        g = trace(model, spec if shape is None else None)
        return _traced_rows(g, level, expand_nested), not _is_chain(g), None
    except TraceError as e:
        note = str(e).splitlines()[0]
        where = f" ({e.filename}, line {e.lineno})" if e.filename else ""
        note = (f"Could not trace the call into a graph{where}: {e.reason}. Rows list the "
                "layers with the shapes of one run.")
    except (ValueError, TypeError) as e:
        note = f"Could not trace the call into a graph: {e}".splitlines()[0]
    recorded = _recorded_shapes(model, spec)
    rows, listed = [], set()
    for layer, s in recorded:
        again = id(layer) in listed
        listed.add(id(layer))
        rows.append(Row(layer, format_shape(s), "(shared)" if again else _params_str(layer),
                        level=level))
    for layer in model._layers:
        if id(layer) not in listed:
            rows.append(Row(layer, "?", _params_str(layer), level=level))
    return rows, False, note


def summary_rows(model, expand_nested=False):
    """The table's rows: `(rows, show_connections, note)`; each row has `.layer`, `.label`,
    `.shape`, `.params`, `.conn`, `.trainable`."""
    return _model_rows(model, 0, expand_nested)


# ------------------------------------------------------------------------------------------
# rendering
def _layer_range(rows, layer_range):
    if layer_range is None:
        return rows
    if not isinstance(layer_range, (list, tuple)) or len(layer_range) != 2 or not all(
            isinstance(x, str) for x in layer_range):
        raise ValueError(
            "layer_range must be a list or tuple of two layer names (or regexes), the first and "
            f"last layer to show; received {layer_range!r}.")
    top = [i for i, r in enumerate(rows) if r.level == 0]
    lo = [i for i in top if re.match(layer_range[0], rows[i].layer.name)]
    hi = [i for i in top if re.match(layer_range[1], rows[i].layer.name)]
    if not lo or not hi:
        raise ValueError(
            f"layer_range {tuple(layer_range)} does not match the model's layer names "
            f"{[rows[i].layer.name for i in top]}.")
    a, b = min(lo), max(hi)
    if a > b:
        a, b = min(hi), max(lo)
    end = b + 1
    while end < len(rows) and rows[end].level > 0:
        end += 1
    return rows[a:end]


def _wrap(text, width):
    if width <= 0:
        return [text]
    if len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def _table(headers, aligns, cells, line_length, positions):
    n = len(headers)
    available = line_length - (n + 1)
    bounds = [0.0] + [float(p) for p in positions]
    if bounds[-1] > 1.0:  # absolute positions (Keras accepts these too)
        bounds = [b / bounds[-1] for b in bounds]
    widths, acc = [], 0
    for i in range(n):
        w = round(bounds[i + 1] * available) - acc
        acc += w
        widths.append(w)
    if any(w < 4 for w in widths):
        raise ValueError(
            f"Insufficient line_length {line_length} to print the summary; use at least "
            f"{4 * n + n + 1}.")

    def fmt(lines_per_cell):
        height = max(len(c) for c in lines_per_cell)
        out = []
        for r in range(height):
            parts = []
            for i, c in enumerate(lines_per_cell):
                t = c[r] if r < len(c) else ""
                w = widths[i] - 2
                t = t.rjust(w) if aligns[i] == "right" else t.center(w) if aligns[i] == "center" \
                    else t.ljust(w)
                parts.append(" " + t + " ")
            out.append(parts)
        return out

    lines = ["┏" + "┳".join("━" * w for w in widths) + "┓"]
    def clip(h, w):
        return h if len(h) <= w else h[:max(w - 1, 1)] + "…"

    for parts in fmt([[clip(h, widths[i] - 2)] for i, h in enumerate(headers)]):
        lines.append("┃" + "┃".join(parts) + "┃")
    lines.append("┡" + "╇".join("━" * w for w in widths) + "┩")
    for k, row in enumerate(cells):
        for parts in fmt([_wrap(c, widths[i] - 2) for i, c in enumerate(row)]):
            lines.append("│" + "│".join(parts) + "│")
        if k < len(cells) - 1:
            lines.append("├" + "┼".join("─" * w for w in widths) + "┤")
    lines.append("└" + "┴".join("─" * w for w in widths) + "┘")
    return lines


def _optimizer_weights(model):
    opt_state = None
    for attr in ("_opt_state", "_optimizer_state"):
        opt_state = getattr(model, attr, None)
        if opt_state is not None:
            break
    if opt_state is None:
        ts = getattr(model, "_train_state", None)
        opt_state = getattr(ts, "opt_state", None) if ts is not None else None
    if opt_state is None:
        return None
    leaves = [l for l in jax.tree_util.tree_leaves(opt_state) if hasattr(l, "shape")
              and hasattr(l, "dtype") and getattr(l, "ndim", 0) > 0]
    return leaves


def summary_text(model, line_length=None, positions=None, expand_nested=False,
                 show_trainable=False, layer_range=None) -> str:
    """The summary table as one string (see `print_summary`)."""
    rows, show_conn, note = summary_rows(model, expand_nested=expand_nested)
    rows = _layer_range(rows, layer_range)
    if show_conn:
        default_len, default_pos = 108, [0.3, 0.56, 0.74, 1.0]
        headers = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        aligns = ["left", "left", "right", "left"]
    else:
        default_len, default_pos = 88, [0.45, 0.80, 1.0]
        headers = ["Layer (type)", "Output Shape", "Param #"]
        aligns = ["left", "left", "right"]
    if show_trainable:
        default_len += 12
        default_pos = [p * 0.90 for p in default_pos] + [1.0]
        headers.append("Trainable")
        aligns.append("center")
    if positions is not None:
        positions = list(positions)
        if len(positions) != len(headers):
            raise ValueError(
                f"positions must have one entry per column ({len(headers)}: {headers}), "
                f"received {positions}.")
    if line_length is None:
        cols = shutil.get_terminal_size((80, 24)).columns
        line_length = max(min(default_len, cols - 4), 60)
    cells = []
    for r in rows:
        c = [r.label, r.shape, r.params]
        if show_conn:
            c.append(r.conn)
        if show_trainable:
            c.append(r.trainable)
        cells.append(c)
    lines = [f'Model: "{model.name}"']
    lines += _table(headers, aligns, cells, line_length, positions or default_pos)
    built = model.built
    tw = model.trainable_weights if built else []
    nw = model.non_trainable_weights if built else []
    nt = sum(int(np.prod(v.shape)) for v in tw)
    nn = sum(int(np.prod(v.shape)) for v in nw)
    opt = _optimizer_weights(model)
    no = sum(int(np.prod(l.shape)) for l in opt) if opt else 0
    ob = sum(int(np.prod(l.shape)) * np.dtype(l.dtype).itemsize for l in opt) if opt else 0
    lines.append(f" Total params: {nt + nn + no:,} ({readable_size(_bytes(tw) + _bytes(nw) + ob)})")
    lines.append(f" Trainable params: {nt:,} ({readable_size(_bytes(tw))})")
    lines.append(f" Non-trainable params: {nn:,} ({readable_size(_bytes(nw))})")
    if opt:
        lines.append(f" Optimizer params: {no:,} ({readable_size(ob)})")
    if note:
        lines += textwrap.wrap(f"Note: {note}", max(line_length - 1, 20), initial_indent=" ",
                               subsequent_indent="   ")
    return "\n".join(lines)


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None) -> None:
    """Print a table of the model's layers, output shapes and parameter counts (Keras's).

    Args:
        model: a Sequential, Functional or subclassed model.
        line_length: total width of the table (default 88, or 108 with "Connected to",
            capped at the terminal's width).
        positions: relative (or absolute) right edges of the columns.
        print_fn: called once with the whole summary string (default: `print`).
        expand_nested: also list the layers inside nested models, indented.
        show_trainable: add a column saying whether each layer is trainable.
        layer_range: `(first, last)` layer names or regexes; only rows in between are shown.

    Raises:
        ValueError: a layer_range that matches no layer, or a line_length too small.

    Example:
        >>> model.summary(line_length=100, show_trainable=True)
    """
    text = summary_text(model, line_length=line_length, positions=positions,
                        expand_nested=expand_nested, show_trainable=show_trainable,
                        layer_range=layer_range)
    (print_fn or print)(text)
