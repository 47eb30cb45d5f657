"""A picture of a search: the objective per trial with the best so far, and each
hyperparameter against the objective (matplotlib, imported only here)."""
from __future__ import annotations

from typing import Optional


def plot_search(tuner, path: Optional[str] = None, max_params: int = 8, dpi: int = 100):
    """Draw `tuner`'s study to `path` (PNG) and return the matplotlib Figure.

    Args:
        tuner: a trine.tuner Tuner after (or during) a search.
        path: where to save the picture; None to only return the Figure.
        max_params: at most this many hyperparameter panels.
        dpi: resolution of the saved picture.

    Raises:
        ImportError: without matplotlib (`pip install trine[tune]`).
        ValueError: when the study has no scored trial yet.
    """
    try:
        import matplotlib
        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("trine.tuner.plot needs matplotlib: pip install 'trine[tune]'") from e
    objective = tuner.oracle.objective
    trials = sorted((t for t in tuner.oracle.trials.values() if t.score is not None),
                    key=lambda t: t.number)
    if not trials:
        raise ValueError("trine.tuner.plot: the study has no scored trial yet; run "
                         "tuner.search(...) first.")
    names = []
    for t in trials:
        for name, value in t.hyperparameters.values.items():
            if name not in names and isinstance(value, (int, float, str, bool)):
                names.append(name)
    names = [n for n in names if len({str(t.hyperparameters.values.get(n)) for t in trials}) > 1
             ][:max_params]
    fig, axes = plt.subplots(1, 1 + len(names), figsize=(4.5 * (1 + len(names)), 3.8),
                             squeeze=False)
    axes = axes[0]
    better = max if objective.direction == "max" else min
    xs = [t.number for t in trials]
    ys = [t.score for t in trials]
    best, run = [], None
    for y in ys:
        run = y if run is None else better(run, y)
        best.append(run)
    colors = ["tab:orange" if t.status == "PRUNED" else "tab:blue" for t in trials]
    axes[0].scatter(xs, ys, c=colors, s=18, label="trial (orange: pruned)")
    axes[0].step(xs, best, where="post", color="tab:green", label="best so far")
    axes[0].set_xlabel("trial")
    axes[0].set_ylabel(f"{objective.name} ({objective.direction})")
    axes[0].set_title("objective per trial")
    axes[0].legend(fontsize=8)
    for ax, name in zip(axes[1:], names):
        pts = [(t.hyperparameters.values[name], t.score) for t in trials
               if name in t.hyperparameters.values]
        values = [p[0] for p in pts]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            ax.scatter(values, [p[1] for p in pts], s=18)
            positive = all(v > 0 for v in values)
            if positive and max(values) / min(values) > 100:
                ax.set_xscale("log")
        else:
            cats = sorted({str(v) for v in values})
            ax.scatter([cats.index(str(v)) for v in values], [p[1] for p in pts], s=18)
            ax.set_xticks(range(len(cats)))
            ax.set_xticklabels(cats)
        ax.set_xlabel(name)
        ax.set_title(f"{name} vs {objective.name}")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=dpi)
    return fig
