"""Inspection: summary tables, tracing subclassed models into graphs, plots, conversion
between the three APIs, model comparison and training curves.

    >>> from trine import inspect
    >>> inspect.print_summary(model)
    >>> graph = inspect.trace(subclassed_model)          # a Functional model, same layers
    >>> inspect.plot_model(model, "model.png", show_shapes=True)
    >>> print(inspect.to_source(model, style="subclass"))
    >>> inspect.compare_models(a, b, x)
    >>> inspect.plot_history(history, "curves.png")
"""
from trine.inspect.compare import Comparison, compare_models
from trine.inspect.convert import ConversionError, copy_weights, to_source
from trine.training.history_plot import plot_history
from trine.inspect.plot import model_to_dot, plot_model
from trine.inspect.summary import print_summary, summary_text
from trine.inspect.trace import TraceError, to_functional, trace

__all__ = [
    "Comparison", "ConversionError", "TraceError", "compare_models", "copy_weights",
    "model_to_dot", "plot_history", "plot_model", "print_summary", "summary_text",
    "to_functional", "to_source", "trace",
]
