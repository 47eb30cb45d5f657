"""`plot_model`: a picture of a model's graph, as PNG, SVG (or PDF, or DOT text).

All three APIs are drawn from their graph (subclassed models are traced first): one box per
layer with its name, type and optionally shapes, dtype, activation and trainability; arrows
for every connection, so merges and shared layers (one box, several arrows in and out) are
visible.

Two renderers:
- Graphviz, used when its `dot` program is installed (through the `graphviz` Python package
  when that is installed, else by running `dot` directly);
- trine's own pure-Python renderer otherwise (`plot_render`), so plotting works on a fresh
  machine with nothing extra installed.

The file is written atomically: on any error no partial file is left behind.
"""
from __future__ import annotations

import html
import os
import shutil
import subprocess
import sys
import warnings

from trine._util.atomic import write_output_file
from trine.inspect.plot_render import _DisplayGraph, _Vertex, render_builtin

__all__ = ["model_to_dot", "plot_model"]

_FORMATS_BUILTIN = ("png", "svg", "pdf", "dot", "gv")


# ------------------------------------------------------------------------------------------
# building the display graph
def _fmt_shapes(shapes):
    from trine.inspect.summary import format_shape
    distinct = []
    for s in shapes:
        if s not in distinct:
            distinct.append(s)
    if not distinct:
        return "?"
    return " | ".join(format_shape(s) if not (isinstance(s, list) and len(s) == 1)
                      else format_shape(s[0]) for s in distinct)


def _activation_name(layer):
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    try:
        from trine import activations
        name = activations.serialize(act)
        if isinstance(name, str):
            return name
    except Exception:  # a custom activation without a registered name
        pass
    return getattr(act, "__name__", None) or str(act)


def _vertex_rows(layer, nodes, opts):
    from trine.layers.core import InputLayer
    rows = []
    if len(nodes) > 1:
        rows.append((f"shared: {len(nodes)} calls", "info"))
    if opts["show_layer_activations"]:
        a = _activation_name(layer)
        if a:
            rows.append((f"Activation: {a}", "info"))
    if opts["show_shapes"]:
        if not isinstance(layer, InputLayer):
            ins = [[tuple(t.shape) for t in n.input_tensors] for n in nodes]
            ins = [s[0] if len(s) == 1 else s for s in ins]
            rows.append((f"Input shape: {_fmt_shapes(ins)}", "info"))
        outs = [[tuple(t.shape) for t in n.output_tensors] for n in nodes]
        outs = [s[0] if len(s) == 1 else s for s in outs]
        rows.append((f"Output shape: {_fmt_shapes(outs)}", "info"))
    if opts["show_dtype"]:
        dts = []
        for n in nodes:
            d = ", ".join(t.dtype for t in n.output_tensors)
            if d not in dts:
                dts.append(d)
        rows.append((f"Output dtype: {' | '.join(dts) or '?'}", "info"))
    if opts["show_trainable"] and layer.built and layer.weights:
        rows.append(("Trainable", "trainable") if layer.trainable else ("Non-trainable", "frozen"))
    return rows


def _title(layer, opts):
    return f"{layer.name} ({type(layer).__name__})" if opts["show_layer_names"] \
        else type(layer).__name__


def _add_graph(dg, g, opts, clusters, skip_inputs, prefix):
    """Add Functional graph `g` to the display graph. Returns (entry vids per input,
    exit vids per output)."""
    from trine.inspect.trace import trace
    from trine.layers.core import InputLayer
    from trine.models.model import Model
    from trine.models.sequential import Sequential

    node_ids = {id(n) for n in g._nodes}
    # per layer: its vertex, or (entries, exits) of an expanded nested model
    vertex_of, expanded = {}, {}
    for layer in g.layers:
        nodes = [n for n in layer._inbound_nodes if id(n) in node_ids]
        if isinstance(layer, InputLayer):
            if skip_inputs:
                continue
            nodes = layer._inbound_nodes[:1]
        if opts["expand_nested"] and isinstance(layer, Model) and nodes:
            cid = f"{prefix}{layer.name}"
            dg.clusters[cid] = f"{layer.name} ({type(layer).__name__})"
            try:
                if isinstance(layer, Sequential):
                    inner = layer._functional
                    inner_skip = True
                else:
                    spec = [tuple(t.shape) for t in nodes[0].input_tensors]
                    inner = trace(layer, None if getattr(layer, "_build_input_shape", None)
                                  else (spec[0] if len(spec) == 1 else spec))
                    inner_skip = False
                if inner is not None:
                    expanded[id(layer)] = _add_graph(dg, inner, opts, clusters + (cid,),
                                                     inner_skip, cid + "/")
                    continue
            except Exception:  # a nested model that cannot be expanded is drawn as one box
                dg.clusters.pop(cid, None)
        vid = f"{prefix}{layer.name}"
        dg.vertices[vid] = _Vertex(vid, layer, _title(layer, opts),
                                   _vertex_rows(layer, nodes, opts), clusters,
                                   calls=max(1, len(nodes)))
        vertex_of[id(layer)] = vid

    def source_vid(t):
        layer, ni, ti = t._keras_history
        if id(layer) in expanded:
            exits = expanded[id(layer)][1]
            return exits[ti] if ti < len(exits) else (exits[-1] if exits else None)
        if isinstance(layer, InputLayer) and skip_inputs:
            return None
        return vertex_of.get(id(layer))

    def dest_vid(layer, k):
        if id(layer) in expanded:
            entries = expanded[id(layer)][0]
            return entries[k] if k < len(entries) else (entries[-1] if entries else None)
        return vertex_of.get(id(layer))

    entries = []
    for t in g._input_tensors:
        layer = t._keras_history[0]
        if skip_inputs:
            # the first layers reading this input stand for it
            firsts = [dest_vid(n.layer, n.input_tensors.index(t)) for n in g._nodes
                      if any(x is t for x in n.input_tensors)]
            entries.append(firsts[0] if firsts else None)
        else:
            entries.append(vertex_of.get(id(layer)))
    for n in g._nodes:
        if isinstance(n.layer, InputLayer):
            continue
        for k, t in enumerate(n.input_tensors):
            a = source_vid(t)
            b = dest_vid(n.layer, k)
            if a is not None and b is not None:
                dg.add_edge(a, b)
    exits = [source_vid(t) for t in g._output_tensors]
    return entries, exits


def _display_graph(model, opts) -> _DisplayGraph:
    from trine.inspect.trace import TraceError, trace
    from trine.models.sequential import Sequential

    _check_built(model)
    dg = _DisplayGraph(model.name)
    try:
        g = trace(model)
    except TraceError as e:
        warnings.warn(f"plot_model draws '{model.name}' as one box: {e}", stacklevel=3)
        dg.vertices[model.name] = _Vertex(model.name, model, _title(model, opts),
                                          [("call could not be traced", "info")])
        dg.note = str(e)
        return dg
    _add_graph(dg, g, opts, (), isinstance(model, Sequential), "")
    return dg


def _check_built(model):
    from trine.models.sequential import Sequential
    unbuilt = (model._functional is None) if isinstance(model, Sequential) else not model.built
    if unbuilt:
        raise ValueError(
            f"Model '{model.name}' is not built yet, so it has no graph to draw. Build it first: "
            "call model.build((None, ...)) with the input shape, call it on a batch of data, "
            "or start a Sequential model with keras.Input(shape=...).")


# ------------------------------------------------------------------------------------------
# DOT (Graphviz)
def _dot_source(dg, rankdir, dpi) -> str:
    def esc(s):
        return html.escape(str(s), quote=True)

    lines = ["digraph G {",
             f'  graph [rankdir="{rankdir}", dpi={int(dpi)}, concentrate=true, splines=ortho, '
             f'fontname="Helvetica"];',
             '  node [shape=plaintext, fontname="Helvetica", margin=0];',
             '  edge [penwidth=2];']

    def node_line(v, indent):
        cells = [f'<tr><td bgcolor="black"><font color="white" point-size="14"><b>'
                 f'{esc(v.title)}</b></font></td></tr>']
        for text, kind in v.rows:
            bg = {"trainable": "forestgreen", "frozen": "firebrick"}.get(kind, "white")
            color = "white" if kind in ("trainable", "frozen") else "black"
            cells.append(f'<tr><td bgcolor="{bg}"><font color="{color}" point-size="12">'
                         f'{esc(text)}</font></td></tr>')
        label = ('<<table border="0" cellborder="1" cellspacing="0" cellpadding="6">'
                 + "".join(cells) + "</table>>")
        return f'{indent}"{esc(v.vid)}" [label={label}];'

    by_cluster = {}
    for v in dg.vertices.values():
        by_cluster.setdefault(v.clusters, []).append(v)
    # nested clusters: emit recursively
    def emit(path, indent):
        for v in by_cluster.get(path, []):
            lines.append(node_line(v, indent))
        children = sorted({c[:len(path) + 1] for c in by_cluster if len(c) > len(path)
                           and c[:len(path)] == path})
        for child in children:
            cid = child[-1]
            lines.append(f'{indent}subgraph "cluster_{esc(cid)}" {{')
            lines.append(f'{indent}  label="{esc(dg.clusters.get(cid, cid))}"; style=dashed; '
                         'labeljust="l";')
            emit(child, indent + "  ")
            lines.append(f"{indent}}}")

    emit((), "  ")
    for a, b in dg.edges:
        lines.append(f'  "{esc(a)}" -> "{esc(b)}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _graphviz_available() -> bool:
    return shutil.which("dot") is not None


def _render_graphviz(dot_src: str, fmt: str) -> bytes:
    try:
        import graphviz  # optional
        return graphviz.Source(dot_src).pipe(format=fmt)
    except ImportError:
        pass
    proc = subprocess.run(["dot", f"-T{fmt}"], input=dot_src.encode(), capture_output=True,
                          timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"Graphviz 'dot' failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


# ------------------------------------------------------------------------------------------
def _options(show_shapes, show_dtype, show_layer_names, expand_nested, show_layer_activations,
             show_trainable):
    return {"show_shapes": bool(show_shapes), "show_dtype": bool(show_dtype),
            "show_layer_names": bool(show_layer_names), "expand_nested": bool(expand_nested),
            "show_layer_activations": bool(show_layer_activations),
            "show_trainable": bool(show_trainable)}


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
                 expand_nested=False, dpi=200, show_layer_activations=False,
                 show_trainable=False, **kwargs) -> str:
    """The model's graph as Graphviz DOT source text (render it with `dot -Tpng`).

    Arguments are those of `plot_model`. Raises ValueError for an unbuilt model.
    """
    _check_kwargs(kwargs)
    _check_rankdir(rankdir)
    opts = _options(show_shapes, show_dtype, show_layer_names, expand_nested,
                    show_layer_activations, show_trainable)
    return _dot_source(_display_graph(model, opts), rankdir, dpi)


def _check_kwargs(kwargs):
    kwargs = dict(kwargs)
    kwargs.pop("splines", None)
    kwargs.pop("subgraph", None)
    if kwargs.pop("layer_range", None) is not None:
        raise ValueError("plot_model: layer_range is not supported; plot the whole model.")
    if kwargs:
        raise TypeError(f"plot_model received unknown keyword arguments {sorted(kwargs)}.")


def _check_rankdir(rankdir):
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"plot_model: rankdir must be 'TB', 'LR', 'BT' or 'RL', received "
                         f"{rankdir!r}.")


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=True, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, renderer="auto", **kwargs):
    """Draw the model's graph to an image file (Keras `keras.utils.plot_model`).

    Args:
        model: a built Sequential, Functional or subclassed model (subclassed models are
            traced; one that cannot be traced is drawn as one box, with a warning).
        to_file: the output path; its extension picks the format: .png (default when there
            is none), .svg, .pdf, or .dot for the Graphviz source.
        show_shapes: show each layer's input and output shapes.
        show_dtype: show output dtypes.
        show_layer_names: show layer names (else only the class names).
        rankdir: "TB" (top to bottom), "LR" (left to right), "BT" or "RL".
        expand_nested: draw nested models' layers inside a dashed frame.
        dpi: resolution of PNG output.
        show_layer_activations: show the activation of layers that have one.
        show_trainable: mark each layer with weights as trainable or not.
        renderer: "auto" (Graphviz when its `dot` program is installed, else the built-in
            renderer), "graphviz" or "builtin".

    Returns:
        An `IPython.display.Image` in a notebook, else None.

    Raises:
        ValueError: an unbuilt model (the message says how to build it), an unknown format.
        OSError: the file cannot be written (no partial file is left behind).

    Example:
        >>> plot_model(model, "model.png", show_shapes=True)
    """
    _check_kwargs(kwargs)
    _check_rankdir(rankdir)
    to_file = os.fspath(to_file)
    ext = os.path.splitext(to_file)[1].lower().lstrip(".") or "png"
    if renderer not in ("auto", "graphviz", "builtin"):
        raise ValueError(f"plot_model: renderer must be 'auto', 'graphviz' or 'builtin', "
                         f"received {renderer!r}.")
    opts = _options(show_shapes, show_dtype, show_layer_names, expand_nested,
                    show_layer_activations, show_trainable)
    dg = _display_graph(model, opts)
    data = None
    use_dot = renderer == "graphviz" or (renderer == "auto" and _graphviz_available()
                                         and ext not in ("dot", "gv"))
    if ext in ("dot", "gv"):
        data = _dot_source(dg, rankdir, dpi).encode("utf-8")
    elif use_dot:
        if not _graphviz_available():
            raise RuntimeError(
                "plot_model(renderer='graphviz') needs Graphviz's 'dot' program, which is not "
                "installed. Install Graphviz, or use renderer='builtin' (the default 'auto' "
                "picks it for you).")
        try:
            data = _render_graphviz(_dot_source(dg, rankdir, dpi), ext)
        except Exception as e:  # fall back to the built-in renderer rather than fail
            if renderer == "graphviz":
                raise
            warnings.warn(f"Graphviz could not render the plot ({e}); using trine's built-in "
                          "renderer.", stacklevel=2)
            data = None
    if data is None:
        if ext not in _FORMATS_BUILTIN:
            raise ValueError(
                f"plot_model: cannot write '.{ext}' files without Graphviz; use .png, .svg, "
                ".pdf or .dot.")
        data = render_builtin(dg, ext, rankdir=rankdir, dpi=dpi)
    write_output_file(to_file, data, what="plot_model")
    if ext == "png" and "IPython.core.magics.namespace" in sys.modules:
        try:
            from IPython import display
            return display.Image(filename=to_file)
        except ImportError:
            return None
    return None
