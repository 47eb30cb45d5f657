"""The docstring of a model builder, written once: every family documents the same arguments
the same way, so a builder names only what is its own (sizes, extra arguments, inputs)."""
from __future__ import annotations

import inspect
import textwrap

ARGUMENTS = {
    "include_top": "whether to end with the classifier.",
    "weights": 'None (random), "imagenet" (downloaded once into `<cache>/models`), or the '
               "path of a weights file (Keras's legacy `.h5`, `.weights.h5` or `.keras`).",
    "input_tensor": "an optional tensor (e.g. from `Input`) to use as the image input.",
    "input_shape": "(height, width, 3), at least {min_size}x{min_size}; only when "
                   "`include_top=False` may it differ from ({size}, {size}, 3).",
    "pooling": 'with `include_top=False`: None (4D feature map), "avg" or "max".',
    "classes": "number of classes (1000 with ImageNet weights and the top).",
    "classifier_activation": "activation of the top layer (None gives logits).",
    "include_preprocessing": "whether the model rescales / normalizes [0, 255] pixels.",
    "name": "the model's name.",
}
SELF_NORMALIZING = "A Functional model taking pixels in [0, 255] (it normalizes them itself)."


def document(fn=None, *, size=224, min_size=32, example_size=None, returns=None,
             raises="invalid `weights`, `classes`, `input_shape` or activation.", **own):
    """Give the builder `fn` its docstring: one line per argument of its signature (from
    `ARGUMENTS`, or `own` where the family documents one its own way). Without `fn`, a
    decorator that does so."""
    if fn is None:
        return lambda f: document(f, size=size, min_size=min_size, example_size=example_size,
                                  returns=returns, raises=raises, **own)
    module = fn.__module__.rsplit(".", 1)[-1]
    if returns is None:
        returns = f"A Functional model; feed it images through `{module}.preprocess_input`."
    lines = [f"{fn.__name__} (Keras `keras.applications.{fn.__name__}`).", "", "Args:"]
    for arg in inspect.signature(fn).parameters:
        text = own.get(arg, ARGUMENTS.get(arg))
        if text is None:
            raise TypeError(f"document({fn.__name__}): argument {arg!r} has no entry in "
                            f"ARGUMENTS; pass its description as {arg}='...'.")
        text = text.format(size=size, min_size=min_size)
        lines += textwrap.wrap(f"{arg}: {text}", 88, initial_indent="    ",
                               subsequent_indent="        ")
    side = example_size or min_size
    lines += ["", "Returns:", *textwrap.wrap(returns, 88, initial_indent="    ",
                                             subsequent_indent="    "),
              "", "Raises:", *textwrap.wrap(f"ValueError: {raises}", 88, initial_indent="    ",
                                            subsequent_indent="        "),
              "    OSError: ImageNet weights not cached and not downloadable.",
              "", "Example:",
              f"    >>> model = {fn.__name__}(weights=None, include_top=False, "
              f"input_shape=({side}, {side}, 3))"]
    fn.__doc__ = "\n".join(lines)
    return fn


__all__ = ["ARGUMENTS", "SELF_NORMALIZING", "document"]
