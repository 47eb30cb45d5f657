"""Training curves: loss and each metric per epoch, training and validation, with matplotlib.

    >>> history = model.fit(x, y, validation_split=0.1, epochs=10)
    >>> plot_history(history, "curves.png")
    >>> plot_history({"Sequential": h1, "Functional": h2}, "overlay.png")   # runs overlaid
"""
from __future__ import annotations

import io
import math
import os

__all__ = ["plot_history"]


def _as_dict(h, what="history"):
    if hasattr(h, "history") and isinstance(h.history, dict):
        return h.history
    if isinstance(h, dict) and all(isinstance(v, (list, tuple)) or hasattr(v, "__len__")
                                   and not isinstance(v, (dict, str)) for v in h.values()):
        return h
    raise TypeError(
        f"plot_history expected a History (what fit returns), a dict of per-epoch lists, or a "
        f"dict of those keyed by run name; received {type(h).__name__} for {what}.")


def _runs(history):
    """{label: {metric: [values]}}; a single run has label None."""
    if isinstance(history, dict) and history and all(
            hasattr(v, "history") or isinstance(v, dict) for v in history.values()):
        return {str(k): _as_dict(v, repr(k)) for k, v in history.items()}
    if isinstance(history, (list, tuple)) and history and all(hasattr(h, "history") or
                                                               isinstance(h, dict)
                                                               for h in history):
        return {f"run {i + 1}": _as_dict(h) for i, h in enumerate(history)}
    return {None: _as_dict(history)}


def _metric_names(runs, metrics):
    keys = []
    for d in runs.values():
        for k in d:
            base = k[4:] if k.startswith("val_") else k
            if base not in keys:
                keys.append(base)
    if "loss" in keys:
        keys.remove("loss")
        keys.insert(0, "loss")
    if metrics is None:
        return keys
    if isinstance(metrics, str):
        metrics = [metrics]
    out = []
    for m in metrics:
        base = m[4:] if m.startswith("val_") else m
        if base not in keys:
            raise ValueError(
                f"plot_history: no metric named {m!r} was recorded. Recorded: "
                f"{sorted({k for d in runs.values() for k in d})}.")
        if base not in out:
            out.append(base)
    return out


def plot_history(history, to_file=None, metrics=None, *, title=None, figsize=None, dpi=100,
                 show=None):
    """Plot loss and metrics per epoch, training (solid) and validation (dashed).

    Args:
        history: the `History` returned by `fit` (or its `.history` dict); or a dict
            `{run name: History}` (or a list of them) to overlay several runs, one colour each.
        to_file: save the figure here (.png, .svg, .pdf, ...) instead of showing it.
        metrics: names to plot (default: loss, then every recorded metric); "val_" pairs are
            drawn on the same axes.
        title: a title over the figure.
        figsize: matplotlib figure size in inches (default: 4.5 x 3.4 per panel).
        dpi: resolution of raster output.
        show: open a window (default: only when `to_file` is None).

    Returns:
        The matplotlib `Figure`.

    Raises:
        ImportError: matplotlib is not installed (`pip install matplotlib`).
        ValueError: an empty history or an unknown metric name.
        OSError: `to_file` cannot be written (no partial file is left behind).

    Example:
        >>> fig = plot_history(model.fit(x, y, validation_split=0.2, epochs=5), "curves.png")
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise ImportError("plot_history needs matplotlib: pip install matplotlib") from e
    runs = _runs(history)
    if not any(len(v) for d in runs.values() for v in d.values()):
        raise ValueError(
            "plot_history: the history has no recorded epochs. Train with model.fit(...) first "
            "and pass the History it returns.")
    names = _metric_names(runs, metrics)
    n = len(names)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    figsize = figsize or (4.5 * ncols, 3.4 * nrows)
    if show is None:
        show = to_file is None
    if show:
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=figsize, dpi=dpi)
    else:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        fig = Figure(figsize=figsize, dpi=dpi)
        FigureCanvasAgg(fig)
    colors = [f"C{i}" for i in range(10)]
    markers = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">"]
    nruns = len(runs)
    for i, name in enumerate(names):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        for j, (label, d) in enumerate(runs.items()):
            color = colors[j % len(colors)]
            for key, style, suffix in ((name, "-", "training"), (f"val_{name}", "--",
                                                                  "validation")):
                vals = d.get(key)
                if vals is None or not len(vals):
                    continue
                ys = [float(v) for v in vals]
                xs = list(range(1, len(ys) + 1))
                lab = suffix if label is None else f"{label} ({suffix})"
                # identical runs (the three APIs under one seed) stay visible: earlier
                # runs are drawn wider, later ones on top of them
                ax.plot(xs, ys, style, color=color,
                        marker=markers[j % len(markers)] if len(ys) < 30 else None,
                        markersize=3 + 1.5 * (nruns - 1 - j), linewidth=1.5 + 1.5 * (nruns - 1 - j),
                        alpha=0.9, label=lab)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if to_file is not None:
        from trine._util.atomic import write_output_file
        to_file = os.fspath(to_file)
        fmt = os.path.splitext(to_file)[1].lower().lstrip(".") or "png"
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi)
        write_output_file(to_file, buf.getvalue(), what="plot_history")
    if show:
        import matplotlib.pyplot as plt
        plt.show()
    return fig
