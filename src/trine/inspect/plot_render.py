"""trine's own renderer of a model's display graph, used when Graphviz is not installed: a
layered layout (longest-path ranks, dummy points for long edges, barycentric ordering),
written as SVG directly and as PNG/PDF with matplotlib, so plotting works on a fresh machine
with nothing extra installed.
"""
from __future__ import annotations

import html
import json


# ------------------------------------------------------------------------------------------
# the display graph: boxes (vertices) with rows of text, edges, nested-model clusters
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
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
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
