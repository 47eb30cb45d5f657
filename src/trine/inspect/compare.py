"""`compare_models(a, b, x)`: do two models compute the same function?

It checks, in order, and reports the first difference found:
1. structure: the same graph after tracing (layer types and configs, connections, shapes);
2. parameter counts per layer;
3. weights (bitwise, or within a tolerance);
4. outputs on the given inputs (bitwise, or within a tolerance).

    >>> result = compare_models(seq_model, subclassed_model, x_test[:100])
    >>> result.same, result.first_difference
    >>> print(result)
"""
from __future__ import annotations

import numpy as np

__all__ = ["Comparison", "compare_models"]

_IGNORED_CONFIG = {"name", "batch_input_shape", "input_shape", "batch_shape", "trainable"}


class Comparison:
    """What `compare_models` found.

    Attributes:
        same: True when no difference was found (the object is truthy then too).
        differences: every difference found, in check order, as sentences.
        checks: {"structure" | "parameters" | "weights" | "outputs": True/False/None (skipped)}.
        max_abs_diff: the largest absolute difference between outputs (None if not compared).
    """

    def __init__(self, name_a, name_b):
        self.name_a, self.name_b = name_a, name_b
        self.differences: list[str] = []
        self.checks: dict = {"structure": None, "parameters": None, "weights": None,
                             "outputs": None}
        self.notes: list[str] = []
        self.max_abs_diff = None

    @property
    def same(self) -> bool:
        return not self.differences

    @property
    def first_difference(self) -> str | None:
        return self.differences[0] if self.differences else None

    def __bool__(self):
        return self.same

    def __str__(self):
        head = (f"Models '{self.name_a}' and '{self.name_b}' "
                + ("compute the same function." if self.same else "differ."))
        lines = [head]
        for k, v in self.checks.items():
            lines.append(f"  {k:<11} {'same' if v else 'skipped' if v is None else 'DIFFERENT'}")
        if self.max_abs_diff is not None:
            lines.append(f"  max |output difference|: {self.max_abs_diff:.3g}")
        if self.differences:
            lines.append(f"  first difference: {self.differences[0]}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    __repr__ = __str__


def _config_key(layer):
    try:
        cfg = dict(layer.get_config())
    except Exception:  # a layer without a config is compared by type only
        return {}
    return {k: v for k, v in cfg.items() if k not in _IGNORED_CONFIG}


def _node_signature(g, nodes, idx_of, n):
    refs = []
    for t in n.input_tensors:
        layer, ni, ti = t._keras_history
        src = layer._inbound_nodes[ni]
        if id(src) in idx_of:
            refs.append(("node", idx_of[id(src)], ti))
        else:
            refs.append(("input", [id(x) for x in g._input_tensors].index(id(t))
                         if any(x is t for x in g._input_tensors) else -1, ti))
    return refs


def _compare_structure(ga, gb, res):
    from trine.graph.topology import build_order
    if len(ga._input_tensors) != len(gb._input_tensors):
        res.differences.append(
            f"'{res.name_a}' has {len(ga._input_tensors)} inputs, '{res.name_b}' has "
            f"{len(gb._input_tensors)}.")
        return None
    for i, (ta, tb) in enumerate(zip(ga._input_tensors, gb._input_tensors)):
        if tuple(ta.shape) != tuple(tb.shape):
            res.differences.append(f"input {i} has shape {ta.shape} in '{res.name_a}' but "
                                   f"{tb.shape} in '{res.name_b}'.")
            return None
    na, nb = build_order(ga), build_order(gb)
    if len(na) != len(nb):
        res.differences.append(
            f"'{res.name_a}' has {len(na)} layer calls, '{res.name_b}' has {len(nb)}: "
            f"{[n.layer.name for n in na]} vs {[n.layer.name for n in nb]}.")
        return None
    ia = {id(n): i for i, n in enumerate(na)}
    ib = {id(n): i for i, n in enumerate(nb)}
    pairs = []
    for k, (x, y) in enumerate(zip(na, nb)):
        lx, ly = x.layer, y.layer
        where = f"call {k + 1} ('{lx.name}' vs '{ly.name}')"
        if type(lx) is not type(ly):
            res.differences.append(f"{where}: layer types differ, {type(lx).__name__} vs "
                                   f"{type(ly).__name__}.")
            return None
        ca, cb = _config_key(lx), _config_key(ly)
        if ca != cb:
            keys = sorted(k2 for k2 in set(ca) | set(cb) if ca.get(k2) != cb.get(k2))
            res.differences.append(
                f"{where}: configs differ in {keys}: "
                + ", ".join(f"{k2}={ca.get(k2)!r} vs {cb.get(k2)!r}" for k2 in keys[:3]) + ".")
            return None
        if _node_signature(ga, na, ia, x) != _node_signature(gb, nb, ib, y):
            res.differences.append(f"{where}: the layers read different inputs.")
            return None
        sa = [tuple(t.shape) for t in x.output_tensors]
        sb = [tuple(t.shape) for t in y.output_tensors]
        if sa != sb:
            res.differences.append(f"{where}: output shapes differ, {sa} vs {sb}.")
            return None
        pairs.append((lx, ly))
    return pairs


def _allclose(a, b, rtol, atol):
    if rtol == 0 and atol == 0:
        return np.array_equal(a, b, equal_nan=np.issubdtype(np.asarray(a).dtype, np.floating))
    return np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def _first_pair_per_layer(pairs):
    """The layer pairs in order, a shared layer (one pair per call) kept once."""
    first = {}
    for la, lb in pairs:
        first.setdefault(id(la), (la, lb))
    return list(first.values())


def compare_models(a, b, x=None, *, rtol: float = 0.0, atol: float = 0.0,
                   check_weights: bool = True) -> Comparison:
    """Check whether models `a` and `b` compute the same function.

    Args:
        a, b: built models, of any of the three styles (subclassed ones are traced).
        x: inputs to run both models on (an array, or a list / dict for several inputs).
            Without it, outputs are not compared.
        rtol, atol: tolerances for weights and outputs; both 0 (default) means bitwise.
        check_weights: also compare the weights, layer by layer in graph order.

    Returns:
        A `Comparison`: truthy when the same; `.first_difference` names what differs first.

    Example:
        >>> r = compare_models(sequential, functional, x_test[:256])
        >>> assert r, r.first_difference
    """
    from trine.inspect.trace import TraceError, trace
    res = Comparison(a.name, b.name)
    pairs = None
    try:
        ga, gb = trace(a), trace(b)
        pairs = _compare_structure(ga, gb, res)
        res.checks["structure"] = pairs is not None
    except (TraceError, ValueError) as e:
        res.notes.append(f"structure not compared: {str(e).splitlines()[0]}")
    if pairs is not None:
        pairs = _first_pair_per_layer(pairs)
        ok = True
        for la, lb in pairs:
            pa, pb = la.count_params() if la.built else 0, lb.count_params() if lb.built else 0
            if pa != pb:
                res.differences.append(f"layer '{la.name}' has {pa:,} parameters, '{lb.name}' "
                                       f"has {pb:,}.")
                ok = False
                break
        res.checks["parameters"] = ok
        if ok and check_weights:
            wok = True
            for la, lb in pairs:
                for va, vb in zip(la.weights, lb.weights):
                    xa, xb = np.asarray(va.value), np.asarray(vb.value)
                    if xa.shape != xb.shape or not _allclose(xa, xb, rtol, atol):
                        diff = (float(np.max(np.abs(xa.astype(np.float64) - xb)))
                                if xa.shape == xb.shape else None)
                        res.differences.append(
                            f"weight '{va.path}' of '{res.name_a}' differs from '{vb.path}' of "
                            f"'{res.name_b}'" + (f" (max |diff| {diff:.3g})." if diff is not None
                                                 else f" (shapes {xa.shape} vs {xb.shape})."))
                        wok = False
                        break
                if not wok:
                    break
            res.checks["weights"] = wok
    elif check_weights:
        wa, wb = a.get_weights(), b.get_weights()
        if len(wa) == len(wb):
            wok = all(x1.shape == x2.shape and _allclose(x1, x2, rtol, atol)
                      for x1, x2 in zip(wa, wb))
            res.checks["weights"] = wok
            if not wok:
                res.differences.append("the weights differ (compared in model.weights order).")
    if x is not None:
        import jax
        ya = jax.tree_util.tree_leaves(a(x))
        yb = jax.tree_util.tree_leaves(b(x))
        ok = len(ya) == len(yb)
        if not ok:
            res.differences.append(f"'{res.name_a}' returns {len(ya)} outputs, '{res.name_b}' "
                                   f"returns {len(yb)}.")
        else:
            worst = 0.0
            for i, (p, q) in enumerate(zip(ya, yb)):
                p, q = np.asarray(p), np.asarray(q)
                if p.shape != q.shape:
                    res.differences.append(f"output {i} has shape {p.shape} vs {q.shape}.")
                    ok = False
                    break
                d = float(np.max(np.abs(p.astype(np.float64) - q))) if p.size else 0.0
                worst = max(worst, d)
                if not _allclose(p, q, rtol, atol):
                    where = np.unravel_index(int(np.argmax(np.abs(p.astype(np.float64) - q))),
                                             p.shape) if p.size else ()
                    res.differences.append(
                        f"output {i} differs: max |diff| {d:.3g} at index {tuple(int(w) for w in where)}"
                        f" ({p[where]!r} vs {q[where]!r}).")
                    ok = False
                    break
            res.max_abs_diff = worst
        res.checks["outputs"] = ok
    return res
