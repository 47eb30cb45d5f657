"""`plot_model`: a picture of a model's graph, as PNG, SVG (or PDF, or DOT text).

All three APIs are drawn from their graph (subclassed models are traced first): one box per
layer with its name, type and optionally shapes, dtype, activation and trainability; arrows
for every connection, so merges and shared layers (one box, several arrows in and out) are
visible.

Two renderers:
- Graphviz, used when its `dot` program is installed (through the `graphviz` Python package
  when that is installed, else by running `dot` directly);
- trine's own pure-Python renderer otherwise: a layered layout (longest-path ranks, dummy
  points for long edges, barycentric ordering), written as SVG directly and as PNG/PDF with
  matplotlib. Plotting therefore works on a fresh machine with nothing extra installed.

The file is written atomically: on any error no partial file is left behind.
"""
from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
import warnings

__all__ = ["model_to_dot", "plot_model"]

_FORMATS_BUILTIN = ("png", "svg", "pdf", "dot", "gv")


# ------------------------------------------------------------------------------------------
# the display graph
class _Vertex:
    __slots__ = ("vid", "layer", "title", "rows", "clusters", "w", "h", "rank", "order", "x",
                 "y", "dummy", "calls")

    def __init__(self, vid, layer=None, title="", rows=(), clusters=(), dummy=False, calls=1):
        self.vid = vid
        self.layer = layer
        self.title = title
        self.rows = list(rows)       # [(text, kind)] kind: "info" | "trainable" | "frozen"
        self.clusters = tuple(clusters)
        self.dummy = dummy
        self.calls = calls
        self.w = self.h = 0.0
        self.rank = 0
        self.order = 0.0
        self.x = self.y = 0.0


class _DisplayGraph:
    def __init__(self, name):
        self.name = name
        self.vertices = {}          # vid -> _Vertex
        self.edges = []             # (src vid, dst vid)
        self.clusters = {}          # cluster id -> label
        self.note = None

    def add_edge(self, a, b):
        if (a, b) not in self.edges:
            self.edges.append((a, b))


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
# pure-Python layout
_TITLE_PT = 11.0
_ROW_PT = 9.5
_CHAR = 0.62           # width of one DejaVu Sans Mono character, in em (with margin)
_PAD_X = 10.0
_GAP_ORDER = 22.0
_GAP_RANK = 40.0
_MARGIN = 16.0


def _measure(v):
    if v.dummy:
        v.w = v.h = 0.0
        return
    title_w = len(v.title) * _CHAR * _TITLE_PT
    row_w = max([len(t) * _CHAR * _ROW_PT for t, _ in v.rows] or [0])
    v.w = max(title_w, row_w) + 2 * _PAD_X
    v.h = _TITLE_PT * 2.0 + len(v.rows) * _ROW_PT * 1.9


def _layout(dg, rankdir):
    verts = dg.vertices
    for v in verts.values():
        _measure(v)
    succ = {k: [] for k in verts}
    pred = {k: [] for k in verts}
    for a, b in dg.edges:
        if a != b:
            succ[a].append(b)
            pred[b].append(a)
    # break cycles (a layer applied to its own output through others): DFS back edges
    state, order, back = {}, [], set()

    def dfs(root):  # iterative, so deep models do not hit the recursion limit
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            u, it = stack[-1]
            for w in it:
                if state.get(w) == 1:
                    back.add((u, w))
                elif w not in state:
                    state[w] = 1
                    stack.append((w, iter(succ[w])))
                    break
            else:
                state[u] = 2
                order.append(u)
                stack.pop()

    for k in verts:
        if not pred[k] and k not in state:
            dfs(k)
    for k in verts:
        if k not in state:
            dfs(k)
    topo = list(reversed(order))
    for u in topo:
        r = 0
        for p in pred[u]:
            if (p, u) not in back:
                r = max(r, verts[p].rank + 1)
        verts[u].rank = r
    # long edges get dummy vertices on intermediate ranks
    chains = []  # (src, [dummies...], dst)
    n_dummy = 0
    layout_edges = []
    for a, b in dg.edges:
        if a == b or (a, b) in back:
            chains.append((a, [], b))
            continue
        ra, rb = verts[a].rank, verts[b].rank
        path = []
        prev = a
        for r in range(ra + 1, rb):
            d = f"__dummy{n_dummy}"
            n_dummy += 1
            dv = _Vertex(d, dummy=True)
            dv.rank = r
            verts[d] = dv
            path.append(d)
            layout_edges.append((prev, d))
            prev = d
        layout_edges.append((prev, b))
        chains.append((a, path, b))
    for v in verts.values():
        _measure(v)
    up = {k: [] for k in verts}
    down = {k: [] for k in verts}
    for a, b in layout_edges:
        down[a].append(b)
        up[b].append(a)
    nranks = max(v.rank for v in verts.values()) + 1
    ranks = [[] for _ in range(nranks)]
    first_seen = {k: float(i) for i, k in enumerate(dg.vertices) if not verts[k].dummy}
    for a, path, b in chains:
        for j, d in enumerate(path):
            first_seen[d] = first_seen.get(a, 0.0) + (j + 1) * 1e-3
    for k, v in verts.items():
        ranks[v.rank].append(k)
    for r in ranks:
        r.sort(key=lambda k: first_seen.get(k, len(first_seen)))
        for i, k in enumerate(r):
            verts[k].order = float(i)
    # barycentric ordering sweeps
    for it in range(6):
        seq = range(1, nranks) if it % 2 == 0 else range(nranks - 2, -1, -1)
        for ri in seq:
            nb = up if it % 2 == 0 else down
            r = ranks[ri]

            def bary(k, nb=nb):
                ns = nb[k]
                return sum(verts[n].order for n in ns) / len(ns) if ns else verts[k].order

            r.sort(key=bary)
            for i, k in enumerate(r):
                verts[k].order = float(i)
    horizontal = rankdir in ("LR", "RL")

    def osize(v):  # extent along the order axis
        return v.h if horizontal else v.w

    def rsize(v):
        return v.w if horizontal else v.h

    # coordinates along the order axis: pack, then pull towards neighbours
    pos = {}
    for r in ranks:
        x = 0.0
        for k in r:
            s = osize(verts[k])
            pos[k] = x + s / 2
            x += s + _GAP_ORDER
    width = max((pos[r[-1]] + osize(verts[r[-1]]) / 2) for r in ranks if r)
    for r in ranks:
        if r:
            span = pos[r[-1]] + osize(verts[r[-1]]) / 2 - (pos[r[0]] - osize(verts[r[0]]) / 2)
            off = (width - span) / 2
            for k in r:
                pos[k] += off
    for it in range(8):
        seq = range(nranks) if it % 2 == 0 else range(nranks - 1, -1, -1)
        for ri in seq:
            r = ranks[ri]
            if not r:
                continue
            desired = []
            for k in r:
                ns = up[k] + down[k]
                desired.append(sum(pos[n] for n in ns) / len(ns) if ns else pos[k])
            xs = []
            for i, k in enumerate(r):
                x = desired[i]
                if i:
                    prev = r[i - 1]
                    x = max(x, xs[-1] + osize(verts[prev]) / 2 + _GAP_ORDER + osize(verts[k]) / 2)
                xs.append(x)
            shift = sum(x - d for x, d in zip(xs, desired)) / len(xs)
            for k, x in zip(r, xs):
                pos[k] = x - shift
    lo = min(pos[k] - osize(verts[k]) / 2 for k in verts)
    for k in pos:
        pos[k] += _MARGIN - lo
    # rank axis
    rank_start, acc = [], _MARGIN + (14.0 if dg.clusters else 0.0)
    for r in ranks:
        rank_start.append(acc)
        acc += max([rsize(verts[k]) for k in r] or [0]) + _GAP_RANK
    for k, v in verts.items():
        extent = max([rsize(verts[j]) for j in ranks[v.rank]] or [0])
        c = rank_start[v.rank] + extent / 2
        if horizontal:
            v.x, v.y = c, pos[k]
        else:
            v.x, v.y = pos[k], c
    total_o = max(pos[k] + osize(verts[k]) / 2 for k in verts) + _MARGIN
    total_r = acc - _GAP_RANK + _MARGIN
    W, H = (total_r, total_o) if horizontal else (total_o, total_r)
    if rankdir in ("BT", "RL"):
        for v in verts.values():
            if horizontal:
                v.x = W - v.x
            else:
                v.y = H - v.y
    # make room for the frames of nested models
    boxes = _cluster_boxes(dg)
    if boxes:
        x0 = min([b[0] for b in boxes] + [_MARGIN])
        y0 = min([b[1] for b in boxes] + [_MARGIN])
        dx, dy = _MARGIN - x0, _MARGIN - y0
        for v in verts.values():
            v.x += dx
            v.y += dy
        W = max([W + dx] + [b[2] + dx + _MARGIN for b in boxes])
        H = max([H + dy] + [b[3] + dy + _MARGIN for b in boxes])
    return W, H, chains


def _edge_points(dg, chains, rankdir):
    """Polylines [(x, y), ...] for each edge, from the source's border to the target's."""
    verts = dg.vertices
    horizontal = rankdir in ("LR", "RL")
    flip = rankdir in ("BT", "RL")
    sign = -1 if flip else 1
    # spread attachment points along the box side
    outs, ins = {}, {}
    for i, (a, path, b) in enumerate(chains):
        outs.setdefault(a, []).append(i)
        ins.setdefault(b, []).append(i)

    def along(v):
        return v.y if horizontal else v.x

    def spread(vid, idxs, other_of):
        v = verts[vid]
        idxs = sorted(idxs, key=lambda i: along(verts[other_of(i)]))
        size = (v.h if horizontal else v.w) * 0.6
        n = len(idxs)
        return {i: (along(v) + (size * (j / (n - 1) - 0.5) if n > 1 else 0.0))
                for j, i in enumerate(idxs)}

    first = lambda i: chains[i][1][0] if chains[i][1] else chains[i][2]    # noqa: E731
    last = lambda i: chains[i][1][-1] if chains[i][1] else chains[i][0]    # noqa: E731
    out_pos, in_pos = {}, {}
    for vid, idxs in outs.items():
        out_pos.update({(vid, i): p for i, p in spread(vid, idxs, first).items()})
    for vid, idxs in ins.items():
        in_pos.update({(vid, i): p for i, p in spread(vid, idxs, last).items()})
    polys = []
    for i, (a, path, b) in enumerate(chains):
        va, vb = verts[a], verts[b]
        if horizontal:
            p0 = (va.x + sign * va.w / 2, out_pos[(a, i)])
            p1 = (vb.x - sign * vb.w / 2, in_pos[(b, i)])
            mids = [(verts[d].x, verts[d].y) for d in path]
        else:
            p0 = (out_pos[(a, i)], va.y + sign * va.h / 2)
            p1 = (in_pos[(b, i)], vb.y - sign * vb.h / 2)
            mids = [(verts[d].x, verts[d].y) for d in path]
        self_loop = a == b
        backward = (vb.y if not horizontal else vb.x) * sign <= (va.y if not horizontal
                                                                  else va.x) * sign
        if self_loop or backward:
            # straight segments around the side of the boxes (mode None)
            k = 0.25 if self_loop else 0.0
            if horizontal:
                out_y = max(va.y + va.h / 2, vb.y + vb.h / 2) + 16
                polys.append(([(va.x + k * va.w, va.y + va.h / 2), (va.x + k * va.w, out_y),
                               (vb.x - k * vb.w, out_y), (vb.x - k * vb.w, vb.y + vb.h / 2)],
                              None))
            else:
                out_x = max(va.x + va.w / 2, vb.x + vb.w / 2) + 16
                polys.append(([(va.x + va.w / 2, va.y + k * va.h), (out_x, va.y + k * va.h),
                               (out_x, vb.y - k * vb.h), (vb.x + vb.w / 2, vb.y - k * vb.h)],
                              None))
            continue
        polys.append(([p0] + mids + [p1], horizontal))
    return polys


def _bezier(points, horizontal):
    """Cubic Bézier segments through points: tangents along the rank axis (horizontal True:
    left-right, False: top-bottom), or straight segments (None)."""
    segs = []
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if horizontal is None:
            segs.append(((x0, y0), (x1, y1), (x1, y1)))
        elif horizontal:
            dx = (x1 - x0) / 2
            segs.append(((x0 + dx, y0), (x1 - dx, y1), (x1, y1)))
        else:
            dy = (y1 - y0) / 2
            segs.append(((x0, y0 + dy), (x1, y1 - dy), (x1, y1)))
    return segs


def _arrowhead(points, horizontal, size=7.0):
    import math
    (x1, y1) = points[-1]
    (x0, y0) = points[-2]
    if abs(x1 - x0) + abs(y1 - y0) == 0:
        return None
    if horizontal is None:
        dx, dy = x1 - x0, y1 - y0
    elif horizontal:
        dx, dy = (1.0 if x1 >= x0 else -1.0), 0.0
    else:
        dx, dy = 0.0, (1.0 if y1 >= y0 else -1.0)
    n = math.hypot(dx, dy)
    dx, dy = dx / n, dy / n
    bx, by = x1 - dx * size, y1 - dy * size
    px, py = -dy * size * 0.45, dx * size * 0.45
    return [(x1, y1), (bx + px, by + py), (bx - px, by - py)]


def _cluster_boxes(dg):
    boxes = []
    for cid, label in dg.clusters.items():
        members = [v for v in dg.vertices.values() if not v.dummy and cid in v.clusters]
        if not members:
            continue
        depth = min(v.clusters.index(cid) for v in members)
        pad = 10.0 - 2 * depth
        x0 = min(v.x - v.w / 2 for v in members) - pad
        x1 = max(v.x + v.w / 2 for v in members) + pad
        y0 = min(v.y - v.h / 2 for v in members) - pad - 12
        y1 = max(v.y + v.h / 2 for v in members) + pad
        boxes.append((x0, y0, x1, y1, label))
    return boxes


_COLORS = {"header": "#1f2933", "header_text": "#ffffff", "row": "#ffffff", "row_text": "#1f2933",
           "trainable": "#228b22", "frozen": "#b22222", "border": "#1f2933", "edge": "#3e4c59",
           "cluster": "#7b8794"}


def _box_parts(v):
    """[(y_top, height, text, kind, font_pt)] for the title and each row of a vertex box."""
    parts = []
    y = v.y - v.h / 2
    th = _TITLE_PT * 2.0
    parts.append((y, th, v.title, "title", _TITLE_PT))
    y += th
    rh = _ROW_PT * 1.9
    for text, kind in v.rows:
        parts.append((y, rh, text, kind, _ROW_PT))
        y += rh
    return parts


def _svg(dg, W, H, polys, meta) -> str:
    def esc(s):
        return html.escape(str(s), quote=True)

    font = "DejaVu Sans Mono, Menlo, Consolas, monospace"
    out = [f'<?xml version="1.0" encoding="UTF-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{W:.0f}pt" height="{H:.0f}pt" '
           f'viewBox="0 0 {W:.1f} {H:.1f}" font-family="{font}">',
           f"<title>{esc(dg.name)}</title>",
           f"<desc>{esc(json.dumps(meta))}</desc>",
           f'<rect x="0" y="0" width="{W:.1f}" height="{H:.1f}" fill="#ffffff"/>']
    for x0, y0, x1, y1, label in _cluster_boxes(dg):
        out.append(f'<g class="cluster"><rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" '
                   f'height="{y1 - y0:.1f}" rx="6" fill="none" stroke="{_COLORS["cluster"]}" '
                   f'stroke-dasharray="5,3"/><text x="{x0 + 6:.1f}" y="{y0 + 11:.1f}" '
                   f'font-size="9" fill="{_COLORS["cluster"]}">{esc(label)}</text></g>')
    for pts, horizontal in polys:
        d = f"M {pts[0][0]:.1f} {pts[0][1]:.1f} " + " ".join(
            f"C {c1[0]:.1f} {c1[1]:.1f} {c2[0]:.1f} {c2[1]:.1f} {p[0]:.1f} {p[1]:.1f}"
            for c1, c2, p in _bezier(pts, horizontal))
        out.append(f'<path d="{d}" fill="none" stroke="{_COLORS["edge"]}" stroke-width="1.4"/>')
        head = _arrowhead(pts, horizontal)
        if head:
            out.append('<polygon points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in head)
                       + f'" fill="{_COLORS["edge"]}"/>')
    for v in dg.vertices.values():
        if v.dummy:
            continue
        out.append(f'<g class="node" id="{esc(v.vid)}">')
        for y, h, text, kind, pt in _box_parts(v):
            fill = {"title": _COLORS["header"], "trainable": _COLORS["trainable"],
                    "frozen": _COLORS["frozen"]}.get(kind, _COLORS["row"])
            color = _COLORS["row_text"] if kind == "info" else _COLORS["header_text"]
            weight = ' font-weight="bold"' if kind == "title" else ""
            out.append(f'<rect x="{v.x - v.w / 2:.1f}" y="{y:.1f}" width="{v.w:.1f}" '
                       f'height="{h:.1f}" fill="{fill}" stroke="{_COLORS["border"]}" '
                       'stroke-width="0.8"/>')
            out.append(f'<text x="{v.x:.1f}" y="{y + h / 2:.1f}" font-size="{pt}" '
                       f'text-anchor="middle" dominant-baseline="central" fill="{color}"'
                       f"{weight}>{esc(text)}</text>")
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _matplotlib_bytes(dg, W, H, polys, fmt, dpi, meta) -> bytes:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import PathPatch, Polygon, Rectangle
    from matplotlib.path import Path

    fig = Figure(figsize=(W / 72.0, H / 72.0), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, W)
    ax.set_ylim(H, 0)
    ax.axis("off")
    family = "DejaVu Sans Mono"
    for x0, y0, x1, y1, label in _cluster_boxes(dg):
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, linestyle="--",
                               edgecolor=_COLORS["cluster"], linewidth=0.9))
        ax.text(x0 + 6, y0 + 8, label, fontsize=9, color=_COLORS["cluster"], family=family,
                va="center", ha="left")
    for pts, horizontal in polys:
        verts, codes = [pts[0]], [Path.MOVETO]
        for c1, c2, p in _bezier(pts, horizontal):
            verts += [c1, c2, p]
            codes += [Path.CURVE4] * 3
        ax.add_patch(PathPatch(Path(verts, codes), fill=False, edgecolor=_COLORS["edge"],
                               linewidth=1.4))
        head = _arrowhead(pts, horizontal)
        if head:
            ax.add_patch(Polygon(head, closed=True, facecolor=_COLORS["edge"], edgecolor="none"))
    for v in dg.vertices.values():
        if v.dummy:
            continue
        for y, h, text, kind, pt in _box_parts(v):
            fill = {"title": _COLORS["header"], "trainable": _COLORS["trainable"],
                    "frozen": _COLORS["frozen"]}.get(kind, _COLORS["row"])
            color = _COLORS["row_text"] if kind == "info" else _COLORS["header_text"]
            ax.add_patch(Rectangle((v.x - v.w / 2, y), v.w, h, facecolor=fill,
                                   edgecolor=_COLORS["border"], linewidth=0.8))
            ax.text(v.x, y + h / 2, text, fontsize=pt, color=color, family=family,
                    ha="center", va="center", fontweight="bold" if kind == "title" else "normal")
    buf = io.BytesIO()
    kwargs = {}
    if fmt == "png":
        kwargs["metadata"] = {"Title": dg.name, "Software": "trine",
                              "Description": json.dumps(meta)}
    elif fmt == "pdf":
        kwargs["metadata"] = {"Title": dg.name, "Creator": "trine"}
    fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white", **kwargs)
    return buf.getvalue()


def render_builtin(dg, fmt, rankdir="TB", dpi=200) -> bytes:
    """Render a display graph with trine's own layout (SVG text or matplotlib image)."""
    W, H, chains = _layout(dg, rankdir)
    polys = _edge_points(dg, chains, rankdir)
    pts = [p for poly, _ in polys for p in poly]
    if pts:  # edges routed around the side may reach past the boxes
        W = max(W, max(x for x, _ in pts) + _MARGIN)
        H = max(H, max(y for _, y in pts) + _MARGIN)
    meta = {"model": dg.name, "layers": [v.layer.name for v in dg.vertices.values()
                                         if not v.dummy and v.layer is not None],
            "edges": [[a, b] for a, b in dg.edges]}
    if fmt == "svg":
        return _svg(dg, W, H, polys, meta).encode("utf-8")
    return _matplotlib_bytes(dg, W, H, polys, fmt, dpi, meta)


# ------------------------------------------------------------------------------------------
def _write_atomic(path: str, data: bytes, what: str = "plot_model") -> None:
    """Write `data` to `path` through a temporary file, so no partial file is left."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            f"{what} cannot write '{path}': the directory '{directory}' does not exist. "
            "Create it first or choose another path.")
    from trine._util.atomic import atomic_write
    try:  # the shared writer: mode from the umask, a killed write's temp file cleaned later
        atomic_write(path, lambda f: f.write(data), what="plot")
    except PermissionError as e:
        raise PermissionError(
            f"{what} cannot write '{path}': permission denied ({e.strerror}). Choose a "
            "writable location.") from e
    except IsADirectoryError as e:
        raise IsADirectoryError(
            f"{what} cannot write '{path}': it is a directory. Give a file name such as "
            f"'{os.path.join(path, 'model.png')}'.") from e
    except OSError as e:
        raise OSError(f"{what} cannot write '{path}': {e.strerror or e}.") from e


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
    _write_atomic(to_file, data)
    if ext == "png" and "IPython.core.magics.namespace" in sys.modules:
        try:
            from IPython import display
            return display.Image(filename=to_file)
        except ImportError:
            return None
    return None
