"""Conversion between the three styles: a model written out as Sequential, Functional or
subclassing source code.

`to_source(model, style)` reads the model's graph (a subclassed model is traced first), and
writes Python that rebuilds the same architecture from the layers' configs, with the same
layer names. Layers are created and called in the order the original drew its random keys,
so running the source under the same `set_random_seed` gives bit-identical initial weights,
and therefore identical outputs; `copy_weights(src, dst)` copies trained weights by layer
name.

    >>> src = to_source(model, style="functional")
    >>> namespace = {}
    >>> exec(src, namespace)
    >>> rebuilt = namespace["model"]
"""
from __future__ import annotations

import inspect as _inspect
import keyword
import math
import re

import numpy as np

from trine.core.layer import to_snake_case
from trine.core.symbolic import KerasTensor
from trine.graph.topology import build_order

__all__ = ["ConversionError", "copy_weights", "sequential_reason", "to_source"]

_STYLES = {"sequential": "sequential", "functional": "functional", "subclass": "subclass",
           "subclassing": "subclass", "subclassed": "subclass"}


class ConversionError(ValueError):
    """A model cannot be written in the requested style (the message says why)."""


# ------------------------------------------------------------------------------------------
# Python literals
_MISSING = object()


def _py(v, where="") -> str:
    """Source text for a config value."""
    if isinstance(v, str):
        return _str(v)
    if v is None or isinstance(v, bool):
        return repr(v)
    if isinstance(v, (int, np.integer)):
        return repr(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return 'float("nan")'
        if math.isinf(f):
            return 'float("inf")' if f > 0 else 'float("-inf")'
        return repr(f)
    if isinstance(v, list):
        return "[" + ", ".join(_py(e, where) for e in v) + "]"
    if isinstance(v, tuple):
        inner = ", ".join(_py(e, where) for e in v)
        return "(" + inner + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_py(k, where)}: {_py(e, where)}" for k, e in v.items()) + "}"
    if isinstance(v, slice):
        return f"slice({_py(v.start)}, {_py(v.stop)}, {_py(v.step)})"
    if v is Ellipsis:
        return "Ellipsis"
    if isinstance(v, np.ndarray) or (hasattr(v, "shape") and hasattr(v, "dtype")):
        a = np.asarray(v)
        if a.size > 10_000:
            raise ConversionError(
                f"{where}: a constant array of shape {a.shape} is part of the graph; it is too "
                "large to write into source. Hold it in a layer's weight instead.")
        return f"np.asarray({_py(a.tolist())}, dtype={_py(a.dtype.name)})"
    raise ConversionError(
        f"{where}: the value {v!r} of type {type(v).__name__} cannot be written as Python "
        "source. Give the layer a serializable config (names, numbers, lists, dicts).")


def _str(s: str) -> str:
    """A string literal in double quotes (the style of Keras's examples)."""
    r = repr(s)
    if r.startswith("'") and '"' not in s:
        return '"' + r[1:-1].replace("\\'", "'") + '"'
    return r


def _identifier(name: str) -> str:
    s = re.sub(r"\W", "_", str(name))
    if not s or s[0].isdigit():
        s = "_" + s
    return s


_RESERVED = {"keras", "layers", "np", "jnp", "self", "model", "inputs", "outputs", "training",
             "kwargs", "super", "build_model", "print", "input", "list", "dict", "tuple", "abs",
             "len", "range", "type", "object", "id", "sum", "min", "max", "slice", "float",
             "int", "str", "bool", "map", "filter", "zip"}


class _Namer:
    def __init__(self, reserved=()):
        self.used = set(_RESERVED) | set(reserved) | set(keyword.kwlist)

    def __call__(self, base: str) -> str:
        base = _identifier(base)
        name, n = base, 1
        while name in self.used:
            name = f"{base}_{n}"
            n += 1
        self.used.add(name)
        return name


# ------------------------------------------------------------------------------------------
# layer constructors
_SERIAL_MODULES = {"initializer": "initializers", "regularizer": "regularizers",
                   "constraint": "constraints"}


def _simplify_serialized(key, value):
    """A serialized initializer/regularizer/constraint dict as its short name, if equivalent."""
    if not (isinstance(value, dict) and "class_name" in value):
        return value
    import importlib
    modname = next((m for suffix, m in _SERIAL_MODULES.items() if key.endswith(suffix)), None)
    if modname is None:
        return value
    try:
        mod = importlib.import_module(f"trine.{modname}")
        for cand in (to_snake_case(value["class_name"]), value["class_name"]):
            try:
                if mod.serialize(mod.get(cand)) == value:
                    return cand
            except (ValueError, TypeError, KeyError, AttributeError):
                continue
    except ImportError:
        pass
    return value


def _class_ref(cls, ctx) -> str:
    import trine.layers as L
    if getattr(L, cls.__name__, None) is cls:
        return f"layers.{cls.__name__}"
    mod = cls.__module__
    qual = cls.__qualname__
    if "<locals>" in qual or mod == "__main__":
        ctx.notes.append(f"# {cls.__name__}: a custom layer class; define or import it before "
                         "running this code.")
        return cls.__name__
    ctx.imports.add(f"from {mod} import {qual.split('.')[0]}")
    return qual


def _required_params(cls):
    try:
        sig = _inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return None
    req = []
    for p in list(sig.parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is p.empty:
            req.append(p.name)
    return req


def _default_config(cls, cfg):
    """The config of `cls` built with only its required arguments (for dropping defaults)."""
    req = _required_params(cls)
    if req is None or any(r not in cfg for r in req):
        return None, req or []
    try:
        probe = cls(**{r: cfg[r] for r in req}, name="__trine_probe__")
        return probe.get_config(), req
    except Exception:  # a layer that cannot be built from its required args alone
        return None, req


_DROP_ALWAYS = ("name", "batch_input_shape", "input_shape", "batch_shape")


def _layer_ctor(layer, ctx) -> str:
    """`layers.Dense(300, activation="relu", name="dense")` for a layer."""
    cls = type(layer)
    ref = _class_ref(cls, ctx)
    try:
        cfg = dict(layer.get_config())
    except NotImplementedError as e:
        raise ConversionError(
            f"Layer '{layer.name}' ({cls.__name__}) has no get_config(), so it cannot be written "
            f"as source. Implement get_config() returning its constructor arguments.") from e
    default, req = _default_config(cls, cfg)
    positional, keywords = [], []
    for r in req:
        if r in cfg:
            positional.append(_py(cfg[r], f"Layer '{layer.name}'"))
    for k, v in cfg.items():
        if k in req or k in _DROP_ALWAYS:
            continue
        if k == "trainable" and v is True:
            continue
        if k == "dtype" and v in ("float32", None):
            continue
        if default is not None and k in default and _same(default[k], v):
            continue
        v = _simplify_serialized(k, v)
        keywords.append(f"{k}={_py(v, f'Layer {layer.name!r}, argument {k!r}')}")
    keywords.append(f"name={_str(layer.name)}")
    if not _ctor_reproduces(cls, cfg):
        # the constructor does not take the config as arguments: go through from_config
        try:
            rebuilt = cls.from_config(dict(cfg))
            ok = _same(rebuilt.get_config(), cfg)
        except Exception as e:  # a config that cannot rebuild its layer
            raise ConversionError(
                f"Layer '{layer.name}' ({cls.__name__}) cannot be rebuilt from its config "
                f"({type(e).__name__}: {e}), so it cannot be written as source.") from e
        if not ok:
            raise ConversionError(
                f"Layer '{layer.name}' ({cls.__name__}): from_config(get_config()) does not "
                "give back the same layer, so it cannot be written as source.")
        return f"{ref}.from_config({_py(cfg, f'Layer {layer.name!r}')})"
    return f"{ref}({', '.join(positional + keywords)})"


def _ctor_reproduces(cls, cfg) -> bool:
    """Whether `cls(**config)` rebuilds a layer with the same config."""
    try:
        return _same(cls(**dict(cfg)).get_config(), cfg)
    except Exception:  # the constructor rejects its own config
        return False


def _same(a, b) -> bool:
    try:
        return bool(a == b) if not (isinstance(a, float) and isinstance(b, float)
                                     and math.isnan(a) and math.isnan(b)) else True
    except Exception:  # arrays and other objects without a plain ==
        return False


# ------------------------------------------------------------------------------------------
# graph walking
def _graph(model):
    from trine.inspect.trace import trace
    return trace(model)


def sequential_reason(model) -> str | None:
    """Why `model` is not a linear stack of layers (None if it is one)."""
    from trine.models.sequential import Sequential
    if isinstance(model, Sequential):
        return None
    g = _graph(model)
    return _chain_reason(g, model.name)


def _chain_reason(g, name):
    from trine.layers.core import InputLayer
    from trine.layers.ops_layer import OpLayer
    if len(g._input_tensors) != 1:
        names = [t._keras_history[0].name for t in g._input_tensors]
        return f"model '{name}' has {len(names)} inputs ({', '.join(names)})"
    if len(g._output_tensors) != 1 or not isinstance(g._outputs_struct, KerasTensor):
        return f"model '{name}' has {len(g._output_tensors)} outputs"
    nodes = [n for n in g._nodes if not isinstance(n.layer, InputLayer)]
    seen_layers = {}
    prev = g._input_tensors[0]
    for n in nodes:
        if isinstance(n.layer, OpLayer):
            return (f"it applies the operator '{n.layer.op}' to tensors, which a Sequential "
                    "list of layers cannot express")
        if id(n.layer) in seen_layers:
            return f"layer '{n.layer.name}' is called more than once (a shared layer)"
        seen_layers[id(n.layer)] = n
        args, kwargs = n.call_args
        if len(n.input_tensors) != 1:
            return f"layer '{n.layer.name}' takes {len(n.input_tensors)} inputs (a merge)"
        if not (len(args) == 1 and args[0] is n.input_tensors[0]):
            return f"layer '{n.layer.name}' is called with a list or extra arguments"
        if any(v is not None for v in kwargs.values()):
            return f"layer '{n.layer.name}' is called with arguments {sorted(kwargs)}"
        if n.input_tensors[0] is not prev:
            return (f"layer '{n.layer.name}' reads the output of "
                    f"'{n.input_tensors[0]._keras_history[0].name}' rather than the layer just "
                    "before it (a branch or skip connection)")
        if len(n.output_tensors) != 1:
            return f"layer '{n.layer.name}' has {len(n.output_tensors)} outputs"
        prev = n.output_tensors[0]
    if prev is not g._output_tensors[0]:
        return "its output is not the last layer's output"
    return None


# ------------------------------------------------------------------------------------------
class _Ctx:
    def __init__(self):
        self.imports = set()
        self.notes = []
        self.helpers = []          # source of builder functions for nested models
        self.helper_names = {}     # id(model) -> function name
        self.needs_np = False
        self.namer = _Namer()


def _input_ctor(t) -> str:
    layer = t._keras_history[0]
    shape = tuple(t.shape[1:])
    parts = [f"shape={_py(shape)}"]
    if t.shape and t.shape[0] is not None:
        parts.append(f"batch_size={t.shape[0]}")
    if t.dtype != "float32":
        parts.append(f"dtype={_str(t.dtype)}")
    parts.append(f"name={_str(layer.name)}")
    return f"keras.Input({', '.join(parts)})"


def _struct_src(struct, expr_of) -> str:
    if isinstance(struct, KerasTensor):
        return expr_of(struct)
    if isinstance(struct, dict):
        return "{" + ", ".join(f"{_py(k)}: {_struct_src(v, expr_of)}" for k, v in struct.items()) + "}"
    if isinstance(struct, (list, tuple)):
        inner = ", ".join(_struct_src(v, expr_of) for v in struct)
        if isinstance(struct, tuple):
            return "(" + inner + ("," if len(struct) == 1 else "") + ")"
        return "[" + inner + "]"
    return _py(struct)


_BINARY = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "matmul": "@",
           "power": "**"}


def _subscript(idx, expr_of) -> str:
    def one(e):
        if isinstance(e, slice):
            s = ("" if e.start is None else _operand(e.start, expr_of)) + ":" + (
                "" if e.stop is None else _operand(e.stop, expr_of))
            if e.step is not None:
                s += ":" + _operand(e.step, expr_of)
            return s
        if e is Ellipsis:
            return "..."
        return _operand(e, expr_of)
    if isinstance(idx, tuple):
        return ", ".join(one(e) for e in idx) + ("," if len(idx) == 1 else "")
    return one(idx)


def _operand(v, expr_of) -> str:
    if isinstance(v, KerasTensor):
        return expr_of(v)
    s = _py(v, "operator constant")
    return f"({s})" if s.startswith("-") else s


def _op_expr(node, expr_of, ctx) -> str:
    args, _ = node.call_args
    op = node.layer.op
    x = args[0]
    others = args[1:]
    xs = expr_of(x)
    if op in _BINARY:
        return f"{xs} {_BINARY[op]} {_operand(others[0], expr_of)}"
    if op.startswith("r") and op[1:] in _BINARY:
        return f"{_operand(others[0], expr_of)} {_BINARY[op[1:]]} {xs}"
    if op == "radd":
        return f"{_operand(others[0], expr_of)} + {xs}"
    if op == "negative":
        return f"-{xs}"
    if op == "absolute":
        return f"abs({xs})"
    if op == "getitem":
        return f"{xs}[{_subscript(others[0], expr_of)}]"
    raise ConversionError(f"operator '{op}' on tensors cannot be written as source yet.")


def _args_src(node, expr_of) -> str:
    args, kwargs = node.call_args

    def val(v):
        if isinstance(v, KerasTensor):
            return expr_of(v)
        if isinstance(v, (list, tuple, dict)):
            return _struct_src(v, expr_of)
        return _py(v, f"call of layer '{node.layer.name}'")

    parts = [val(a) for a in args]
    parts += [f"{k}={val(v)}" for k, v in kwargs.items() if v is not None]
    return ", ".join(parts)


def _leaf_paths(node):
    """For each output tensor of a node, the subscript that selects it ('' for a single one)."""
    import jax
    struct = jax.tree_util.tree_unflatten(node._out_treedef, list(range(len(node.output_tensors))))
    paths = {}

    def rec(s, path):
        if isinstance(s, int) and not isinstance(s, bool):
            paths[s] = path
        elif isinstance(s, dict):
            for k, v in s.items():
                rec(v, f"{path}[{_py(k)}]")
        elif isinstance(s, (list, tuple)):
            for i, v in enumerate(s):
                rec(v, f"{path}[{i}]")

    rec(struct, "")
    return [paths[i] for i in range(len(node.output_tensors))]


def _is_model(layer) -> bool:
    from trine.models.model import Model
    return isinstance(layer, Model)


def _nested_builder(model, ctx, input_tensors) -> str:
    """Name of a helper function that builds a nested model (written into ctx.helpers)."""
    from trine.models.sequential import Sequential
    if id(model) in ctx.helper_names:
        return ctx.helper_names[id(model)]
    fname = ctx.namer(f"build_{model.name}")
    ctx.helper_names[id(model)] = fname
    if isinstance(model, Sequential) and model._functional is not None:
        body = ["    return keras.Sequential(["]
        for layer in model.layers:
            body.append(f"        {_ctor_or_nested(layer, ctx, None)},")
        body.append(f"    ], name={_str(model.name)})")
    else:
        from trine.inspect.trace import trace
        spec = None
        if input_tensors:
            shapes = [tuple(t.shape) for t in input_tensors]
            spec = shapes[0] if len(shapes) == 1 else shapes
        g = trace(model, spec if getattr(model, "_build_input_shape", None) is None else None)
        body = _functional_body(g, ctx, model.name, indent="    ")
    ctx.helpers.append(f"def {fname}():\n" + "\n".join(body) + "\n")
    return fname


def _ctor_or_nested(layer, ctx, input_tensors) -> str:
    if _is_model(layer):
        return f"{_nested_builder(layer, ctx, input_tensors)}()"
    return _layer_ctor(layer, ctx)


def _functional_body(g, ctx, model_name, indent):
    """Lines of a function body that builds Functional graph `g` and returns the model."""
    from trine.layers.ops_layer import OpLayer
    namer = _Namer(ctx.namer.used)
    expr = {}
    lines = []
    for t in g._input_tensors:
        var = namer(t._keras_history[0].name)
        expr[id(t)] = var
        lines.append(f"{indent}{var} = {_input_ctor(t)}")
    expr_of = lambda t: expr[id(t)]  # noqa: E731
    nodes = build_order(g)
    counts = {}
    for n in nodes:
        counts[id(n.layer)] = counts.get(id(n.layer), 0) + 1
    layer_var = {}
    for n in nodes:
        layer = n.layer
        if isinstance(layer, OpLayer):
            call = _op_expr(n, expr_of, ctx)
        else:
            if counts[id(layer)] > 1:
                if id(layer) not in layer_var:
                    lv = namer(f"{layer.name}_layer")
                    layer_var[id(layer)] = lv
                    lines.append(f"{indent}{lv} = {_ctor_or_nested(layer, ctx, n.input_tensors)}")
                call = f"{layer_var[id(layer)]}({_args_src(n, expr_of)})"
            else:
                call = f"{_ctor_or_nested(layer, ctx, n.input_tensors)}({_args_src(n, expr_of)})"
        var = namer(layer.name if not isinstance(layer, OpLayer) else "x")
        lines.append(f"{indent}{var} = {call}")
        for t, path in zip(n.output_tensors, _leaf_paths(n)):
            expr[id(t)] = var + path
    ins = _struct_src(g._inputs_struct, expr_of)
    outs = _struct_src(g._outputs_struct, expr_of)
    lines.append(f"{indent}return keras.Model(inputs={ins}, outputs={outs}, name={_str(model_name)})")
    return lines


# ------------------------------------------------------------------------------------------
def _header(ctx, model, style):
    lines = [f'"""{model.name}: {type(model).__name__} model written in the {style} style by '
             'trine.inspect.to_source."""',
             "import trine as keras",
             "from trine import layers"]
    body_needs_np = any("np.asarray(" in h for h in ctx.helpers)
    if ctx.needs_np or body_needs_np:
        lines.append("import numpy as np")
    lines.extend(sorted(ctx.imports))
    lines.extend(ctx.notes)
    return lines


def _sequential_source(model, g, ctx):
    from trine.models.sequential import Sequential
    reason = _chain_reason(g, model.name) if not isinstance(model, Sequential) else None
    if reason:
        raise ConversionError(
            f"Model '{model.name}' cannot be written as a Sequential model: {reason}. A "
            "Sequential model is a single chain of layers, each reading the previous one's "
            "output. Use style='functional' or style='subclass' instead.")
    from trine.layers.core import InputLayer
    nodes = [n for n in g._nodes if not isinstance(n.layer, InputLayer)]
    items = [_input_ctor(g._input_tensors[0])]
    for n in nodes:
        items.append(_ctor_or_nested(n.layer, ctx, n.input_tensors))
    body = ["model = keras.Sequential(["] + [f"    {i}," for i in items]
    body.append(f"], name={_str(model.name)})")
    return body


def _functional_source(model, g, ctx):
    ctx.namer.used.add("build_model")
    body = _functional_body(g, ctx, model.name, indent="    ")
    return ["def build_model():"] + body + ["", "", "model = build_model()"]


def _class_name(model, ctx, given):
    if given:
        return given
    from trine.models.functional import Functional
    from trine.models.sequential import Sequential
    if not isinstance(model, (Functional, Sequential)):
        name = type(model).__name__
    else:
        name = "".join(p[:1].upper() + p[1:] for p in re.split(r"[^0-9a-zA-Z]+", model.name) if p)
        name = name or "Converted"
        if not name.endswith("Model"):
            name += "Model"
    if name[0].isdigit():
        name = "M" + name
    return ctx.namer(name)


_MODEL_ATTRS = None


def _model_attrs():
    global _MODEL_ATTRS
    if _MODEL_ATTRS is None:
        from trine.models.model import Model
        names = set(dir(Model))
        try:
            names |= set(Model(name="__trine_probe__").__dict__)
        except Exception:  # probing is best effort
            pass
        _MODEL_ATTRS = names
    return _MODEL_ATTRS


def _subclass_source(model, g, ctx, class_name):
    from trine.layers.ops_layer import OpLayer
    cname = _class_name(model, ctx, class_name)
    attr_namer = _Namer(_model_attrs())
    nodes = build_order(g)
    attrs, init = {}, []
    for n in nodes:
        layer = n.layer
        if isinstance(layer, OpLayer) or id(layer) in attrs:
            continue
        a = attr_namer(layer.name)
        attrs[id(layer)] = a
        init.append(f"        self.{a} = {_ctor_or_nested(layer, ctx, n.input_tensors)}")
    namer = _Namer(ctx.namer.used)
    expr, call = {}, []
    ins = g._inputs_struct
    if isinstance(ins, KerasTensor):
        expr[id(ins)] = "inputs"
    elif isinstance(ins, dict):
        for k, t in ins.items():
            v = namer(str(k))
            expr[id(t)] = v
            call.append(f"        {v} = inputs[{_py(k)}]")
    else:
        vs = [namer(t._keras_history[0].name) for t in ins]
        for t, v in zip(ins, vs):
            expr[id(t)] = v
        call.append(f"        {', '.join(vs)}{',' if len(vs) == 1 else ''} = inputs")
    expr_of = lambda t: expr[id(t)]  # noqa: E731
    for n in nodes:
        layer = n.layer
        if isinstance(layer, OpLayer):
            rhs = _op_expr(n, expr_of, ctx)
            var = namer("x")
        else:
            rhs = f"self.{attrs[id(layer)]}({_args_src(n, expr_of)})"
            var = namer(layer.name)
        call.append(f"        {var} = {rhs}")
        for t, path in zip(n.output_tensors, _leaf_paths(n)):
            expr[id(t)] = var + path
    call.append(f"        return {_struct_src(g._outputs_struct, expr_of)}")
    shapes = _struct_src(ins, lambda t: _py(tuple(t.shape)))
    lines = [f"class {cname}(keras.Model):",
             "    def __init__(self, **kwargs):",
             "        super().__init__(**kwargs)"] + init + [
             "",
             "    def call(self, inputs, training=None):"] + call + [
             "", "",
             f"model = {cname}(name={_str(model.name)})",
             f"model.build({shapes})"]
    return lines


def to_source(model, style: str = "functional", *, class_name: str | None = None) -> str:
    """Python source that rebuilds `model`'s architecture in another style.

    Args:
        model: a built Sequential, Functional or (traceable) subclassed model.
        style: "sequential", "functional" or "subclass" ("subclassing" also accepted).
        class_name: the class name for style="subclass" (default: from the model).

    Returns:
        Source text; executing it defines `model`, built, with the same layer names and
        configs. Under the same `set_random_seed` its initial weights are bit-identical to
        the original's (layers are built in the original's order).

    Raises:
        ConversionError: style="sequential" for a model that is not a linear stack (the
            reason is given), or a layer whose config cannot be written as source.
        TraceError: a subclassed model whose call cannot be traced.
        ValueError: an unknown style, or a model whose input shape is unknown.

    Example:
        >>> print(to_source(model, style="subclass"))
    """
    key = _STYLES.get(str(style).lower())
    if key is None:
        raise ValueError(
            f"to_source: unknown style {style!r}. Use 'sequential', 'functional' or 'subclass'.")
    g = _graph(model)
    ctx = _Ctx()
    if key == "sequential":
        body = _sequential_source(model, g, ctx)
    elif key == "functional":
        body = _functional_source(model, g, ctx)
    else:
        body = _subclass_source(model, g, ctx, class_name)
    if any("np.asarray(" in line for line in body):
        ctx.needs_np = True
    out = _header(ctx, model, {"subclass": "subclassing"}.get(key, key))
    out.append("")
    out.append("")
    for h in ctx.helpers:
        out.append(h)
        out.append("")
    out.extend(body)
    return "\n".join(out) + "\n"


def copy_weights(src, dst) -> None:
    """Copy weights from model `src` to model `dst` layer by layer, matching layer names.

    Raises:
        ValueError: if a layer of `dst` with weights has no same-named layer in `src`.
    """
    src_layers = {l.name: l for l in src._flatten_layers(include_self=False)}
    for layer in dst._flatten_layers(include_self=False):
        if not layer._direct_variables():
            continue
        other = src_layers.get(layer.name)
        if other is None:
            raise ValueError(
                f"copy_weights: model '{src.name}' has no layer named '{layer.name}' (from "
                f"model '{dst.name}'). Both models need the same layer names.")
        vs, ws = layer._direct_variables(), other._direct_variables()
        if len(vs) != len(ws):
            raise ValueError(
                f"copy_weights: layer '{layer.name}' has {len(vs)} weights in '{dst.name}' but "
                f"{len(ws)} in '{src.name}'.")
        for v, w in zip(vs, ws):
            if tuple(v.shape) != tuple(w.shape):
                raise ValueError(
                    f"copy_weights: weight '{v.path}' has shape {v.shape} in '{dst.name}' but "
                    f"{w.shape} in '{src.name}'.")
            v.assign(w.value)
