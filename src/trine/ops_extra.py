"""The remaining `keras.ops` operations: adaptive pooling, fold / unfold (im2col and back),
CTC decoding, einops-style `rearrange`, and `view` (a bit-level reinterpretation)."""
from __future__ import annotations

import math
import re

import jax
import jax.numpy as jnp
import numpy as np

from trine.config import standardize_data_format


# ------------------------------------------------------------------------- adaptive pooling
def _membership(n_in, n_out):
    """Window i covers [floor(i * n_in / n_out), ceil((i + 1) * n_in / n_out)) (PyTorch's)."""
    m = np.zeros((n_out, n_in), bool)
    for i in range(n_out):
        m[i, math.floor(i * n_in / n_out):math.ceil((i + 1) * n_in / n_out)] = True
    return m


def _adaptive(op, mode, inputs, output_size, data_format):
    df = standardize_data_format(data_format, op)
    x = jnp.asarray(inputs)
    rank = x.ndim - 2
    if rank not in (1, 2, 3):
        raise ValueError(f"{op}: expected inputs of rank 3, 4 or 5 (batch, spatial..., "
                         f"channels), received shape {tuple(x.shape)}.")
    sizes = (output_size,) * rank if isinstance(output_size, (int, np.integer)) else output_size
    if (not isinstance(sizes, (tuple, list)) or len(sizes) != rank
            or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                   for s in sizes)):
        raise ValueError(f"{op}: `output_size` must be a positive int or a tuple of {rank} "
                         f"positive ints, received output_size={output_size!r}.")
    first = 1 if df == "channels_last" else 2
    for axis, n_out in zip(range(first, first + rank), sizes):
        m = _membership(x.shape[axis], int(n_out))
        xm = jnp.moveaxis(x, axis, -1)
        if mode == "average":
            # window means as one matmul with the row-normalised membership matrix
            w = jnp.asarray((m / m.sum(1, keepdims=True)).T, xm.dtype)
            y = jnp.matmul(xm, w, precision=jax.lax.Precision.HIGHEST)
        else:
            low = (-jnp.inf if jnp.issubdtype(xm.dtype, jnp.floating)
                   else jnp.iinfo(xm.dtype).min)
            y = jnp.max(jnp.where(jnp.asarray(m), xm[..., None, :], low), axis=-1)
        x = jnp.moveaxis(y, -1, axis)
    return x


def adaptive_average_pool(inputs, output_size, data_format=None):
    """Average pooling to a fixed spatial `output_size`, whatever the input size.

    Args:
        inputs: rank 3, 4 or 5 (1-D, 2-D or 3-D pooling).
        output_size: an int or one int per spatial axis.
        data_format: "channels_last" / "channels_first"; None reads the global setting.

    Returns:
        The pooled tensor.

    Raises:
        ValueError: for a bad rank or output_size.
    """
    return _adaptive("adaptive_average_pool", "average", inputs, output_size, data_format)


def adaptive_max_pool(inputs, output_size, data_format=None):
    """Max pooling to a fixed spatial `output_size` (see `adaptive_average_pool`)."""
    return _adaptive("adaptive_max_pool", "max", inputs, output_size, data_format)


# ------------------------------------------------------------------------- fold and unfold
def _pair(value, name, op, minimum):
    v = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(v) != 2 or any(isinstance(e, bool) or not isinstance(e, (int, np.integer))
                          or e < minimum for e in v):
        raise ValueError(f"{op}: `{name}` must be an int or a pair of ints >= {minimum}, "
                         f"received {name}={value!r}.")
    return tuple(int(e) for e in v)


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Sliding blocks of an NCHW batch as columns (PyTorch's `unfold`, im2col).

    Args:
        x: shape (N, C, H, W).
        kernel_size, dilation, padding, stride: ints or (h, w) pairs.

    Returns:
        Shape (N, C * kh * kw, L), L the number of blocks; rows run channel-major.

    Raises:
        ValueError: for a rank other than 4 or bad sizes.
    """
    x = jnp.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"unfold: expected x of shape (N, C, H, W), received {tuple(x.shape)}.")
    k = _pair(kernel_size, "kernel_size", "unfold", 1)
    d = _pair(dilation, "dilation", "unfold", 1)
    p = _pair(padding, "padding", "unfold", 0)
    s = _pair(stride, "stride", "unfold", 1)
    x = jnp.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    cols = jax.lax.conv_general_dilated_patches(
        x, k, s, "VALID", rhs_dilation=d, dimension_numbers=("NCHW", "OIHW", "NCHW"),
        precision=jax.lax.Precision.HIGHEST)
    return cols.reshape(cols.shape[0], cols.shape[1], -1)


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns of blocks back into an NCHW image (PyTorch's `fold`, col2im): the
    transpose of `unfold`, so overlapping entries add up.

    Args:
        x: shape (N, C * kh * kw, L).
        output_size: (H, W) of the image (before padding is removed).
        kernel_size, dilation, padding, stride: as given to `unfold`.

    Returns:
        Shape (N, C, H, W).

    Raises:
        ValueError: when x's shape does not fit the sizes.
    """
    x = jnp.asarray(x)
    oh, ow = _pair(output_size, "output_size", "fold", 1)
    k = _pair(kernel_size, "kernel_size", "fold", 1)
    if x.ndim != 3 or x.shape[1] % (k[0] * k[1]):
        raise ValueError(f"fold: expected x of shape (N, C * {k[0]} * {k[1]}, L), received "
                         f"{tuple(x.shape)}.")
    c = x.shape[1] // (k[0] * k[1])
    image = jnp.zeros((x.shape[0], c, oh, ow), x.dtype)
    cols, transpose = jax.vjp(lambda im: unfold(im, k, dilation, padding, stride), image)
    if cols.shape != x.shape:
        raise ValueError(f"fold: an image of size {(oh, ow)} with these kernel, dilation, "
                         f"padding and stride has {cols.shape[2]} blocks; received x of shape "
                         f"{tuple(x.shape)}.")
    return transpose(x)[0]


# ------------------------------------------------------------------------------ CTC decode
def _greedy(inputs, lengths, merge_repeated, mask_index):
    b, t, _ = inputs.shape
    best, score = jnp.argmax(inputs, -1), jnp.max(inputs, -1)
    past_end = jnp.arange(t)[None, :] >= lengths[:, None]
    best = jnp.where(past_end, mask_index, best)
    score = jnp.where(past_end, 0.0, score)
    if merge_repeated:
        repeat = jnp.pad(best[:, 1:] == best[:, :-1], ((0, 0), (1, 0)))
        best = jnp.where(repeat, mask_index, best)
    blank = best == mask_index
    # stable sort that moves the kept labels to the front, blanks (-1) to the back
    order = jnp.argsort(jnp.where(blank, t, jnp.arange(t)[None, :]), axis=-1, stable=True)
    decoded = jnp.take_along_axis(jnp.where(blank, -1, best), order, axis=-1)
    return decoded[None], -jnp.sum(score, axis=1)[:, None]


def _beam_search(logits, lengths, beam_width, top_paths, blank):
    """CTC prefix beam search: each beam is a label prefix with the log-probabilities of
    the paths that reach it ending in a blank (pb) or in its last label (pnb)."""
    b, t, c = logits.shape
    w = int(beam_width)
    logp = jax.nn.log_softmax(logits, axis=-1)
    neg = jnp.asarray(-jnp.inf, logp.dtype)
    labels = jnp.arange(c)

    def step(state, inputs):
        prefix, length, last, pb, pnb = state
        x, active = inputs
        # staying on the same prefix: a blank, or the last label repeated
        stay_b = jnp.logaddexp(pb, pnb) + x[blank]
        stay_nb = jnp.where(last >= 0, pnb + x[jnp.maximum(last, 0)], neg)
        # extending by label k: after a blank-ending path only, when k repeats the last label
        ext = jnp.where(labels[None, :] == last[:, None], pb[:, None],
                        jnp.logaddexp(pb, pnb)[:, None]) + x[None, :]
        ext = jnp.where(labels[None, :] == blank, neg, ext)  # (w, c)
        # an extension equal to a kept prefix merges into it (one entry per prefix)
        parent = prefix.at[jnp.arange(w), jnp.maximum(length - 1, 0)].set(
            jnp.where(length > 0, -1, prefix[:, 0]))
        same_parent = jnp.all(parent[None, :, :] == prefix[:, None, :], axis=-1)
        child = same_parent & (length[None, :] == length[:, None] + 1)  # (parent, beam)
        hit = child[:, None, :] & (labels[None, :, None] == last[None, None, :])  # (w, c, w)
        stay_nb = jnp.logaddexp(stay_nb, jax.nn.logsumexp(
            jnp.where(hit, ext[:, :, None], neg), axis=(0, 1)))
        ext = jnp.where(jnp.any(hit, axis=-1), neg, ext)
        # candidates: the w kept prefixes, then every (prefix, label) extension
        ext_prefix = jnp.broadcast_to(prefix[:, None, :], (w, c, t))
        ext_prefix = jnp.where(jnp.arange(t)[None, None, :] == length[:, None, None],
                               labels[:, None][None], ext_prefix)
        cand_prefix = jnp.concatenate([prefix, ext_prefix.reshape(w * c, t)])
        cand_len = jnp.concatenate([length, jnp.repeat(length + 1, c)])
        cand_last = jnp.concatenate([last, jnp.tile(labels, w)])
        cand_b = jnp.concatenate([stay_b, jnp.full((w * c,), neg)])
        cand_nb = jnp.concatenate([stay_nb, ext.reshape(-1)])
        _, keep = jax.lax.top_k(jnp.logaddexp(cand_b, cand_nb), w)
        new = (cand_prefix[keep], cand_len[keep], cand_last[keep], cand_b[keep], cand_nb[keep])
        return jax.tree_util.tree_map(lambda n, o: jnp.where(active, n, o), new, state), None

    def one(x, n):
        init = (jnp.full((w, t), -1, jnp.int32), jnp.zeros(w, jnp.int32),
                jnp.full(w, -1, jnp.int32), jnp.full(w, neg).at[0].set(0.0), jnp.full(w, neg))
        (prefix, _, _, pb, pnb), _ = jax.lax.scan(step, init, (x, jnp.arange(t) < n))
        score, best = jax.lax.top_k(jnp.logaddexp(pb, pnb), top_paths)
        return prefix[best], score

    paths, scores = jax.vmap(one)(logp, lengths)
    return jnp.transpose(paths, (1, 0, 2)), scores


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1,
               merge_repeated=True, mask_index=0):
    """Decode CTC outputs: the greedy best path, or a prefix beam search.

    Args:
        inputs: log-probabilities (or logits), shape (batch, time, classes).
        sequence_lengths: valid time steps per sample, shape (batch,).
        strategy: "greedy" or "beam_search" (inputs are log-softmaxed first).
        beam_width: prefixes kept per step (beam search).
        top_paths: how many best prefixes to return (beam search).
        merge_repeated: merge repeated labels (CTC's rule) before dropping blanks.
        mask_index: the blank label; None means the last class.

    Returns:
        (decoded, scores): labels of shape (paths, batch, time) padded with -1 (paths is 1
        for greedy, `top_paths` for beam search); greedy scores are the negative summed best
        scores, shape (batch, 1), beam scores each prefix's log-probability, (batch, paths).

    Raises:
        ValueError: for an unknown strategy, bad beam settings or input rank.
    """
    x = jnp.asarray(inputs)
    x = x.astype(jnp.result_type(x.dtype, jnp.float32))
    if x.ndim != 3:
        raise ValueError(f"ctc_decode: expected inputs of shape (batch, time, classes), "
                         f"received {tuple(x.shape)}.")
    lengths = jnp.asarray(sequence_lengths, jnp.int32)
    blank = x.shape[-1] - 1 if mask_index is None else int(mask_index)
    if strategy == "greedy":
        return _greedy(x, lengths, merge_repeated, blank)
    if strategy == "beam_search":
        for name, v in (("beam_width", beam_width), ("top_paths", top_paths)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"ctc_decode: `{name}` must be an integer >= 1, received "
                                 f"{name}={v!r}.")
        if top_paths > beam_width:
            raise ValueError(f"ctc_decode: top_paths ({top_paths}) cannot exceed beam_width "
                             f"({beam_width}).")
        return _beam_search(x, lengths, beam_width, top_paths, blank)
    raise ValueError(f"ctc_decode: `strategy` must be 'greedy' or 'beam_search', received "
                     f"strategy={strategy!r}.")


# ------------------------------------------------------------------------------- rearrange
_TOKEN = re.compile(r"\(([^()]*)\)|([A-Za-z_][A-Za-z0-9_]*)|(\S)")


def _parse_side(side, pattern):
    groups = []
    for m in _TOKEN.finditer(side):
        if m.group(3):
            raise ValueError(f"rearrange: unexpected {m.group(3)!r} in pattern {pattern!r}; "
                             "use axis names and parentheses, e.g. 'b (h w) c -> b h w c'.")
        names = m.group(1).split() if m.group(1) is not None else [m.group(2)]
        for n in names:
            if not n.isidentifier():
                raise ValueError(f"rearrange: {n!r} in pattern {pattern!r} is not an axis name.")
        groups.append(names)
    return groups


def rearrange(tensor, pattern, **axes_lengths):
    """Reorder, merge and split axes by an einops pattern, e.g. 'b h w c -> b (h w) c'.

    Args:
        tensor: the array.
        pattern: "input axes -> output axes"; parentheses group axes that are merged (output)
            or split (input, with the lengths of all but one given in `axes_lengths`).
        **axes_lengths: lengths of axes named in input groups.

    Returns:
        The rearranged array.

    Raises:
        ValueError: for a malformed pattern, mismatched ranks, or lengths that do not divide.
    """
    x = jnp.asarray(tensor)
    if not isinstance(pattern, str) or pattern.count("->") != 1:
        raise ValueError(f"rearrange: `pattern` must look like 'a b -> b a', received "
                         f"{pattern!r}.")
    left, right = pattern.split("->")
    ins, outs = _parse_side(left, pattern), _parse_side(right, pattern)
    if len(ins) != x.ndim:
        raise ValueError(f"rearrange: pattern {pattern!r} names {len(ins)} input axes, the "
                         f"tensor has {x.ndim} (shape {tuple(x.shape)}).")
    flat_in = [n for g in ins for n in g]
    flat_out = [n for g in outs for n in g]
    if sorted(flat_in) != sorted(flat_out) or len(set(flat_in)) != len(flat_in):
        raise ValueError(f"rearrange: each axis must appear once on each side of {pattern!r}.")
    sizes = {}
    for group, dim in zip(ins, x.shape):
        unknown = [n for n in group if n not in axes_lengths]
        known = math.prod(int(axes_lengths[n]) for n in group if n in axes_lengths)
        if len(unknown) > 1:
            raise ValueError(f"rearrange: give the lengths of all but one of {group} in "
                             "axes_lengths.")
        if (unknown and dim % known) or (not unknown and known != dim):
            raise ValueError(f"rearrange: axis group {group} cannot split a dimension of "
                             f"{dim} with lengths {axes_lengths}.")
        for n in group:
            sizes[n] = int(axes_lengths[n]) if n in axes_lengths else dim // known
    x = x.reshape([sizes[n] for n in flat_in])
    x = jnp.transpose(x, [flat_in.index(n) for n in flat_out])
    return x.reshape([math.prod(sizes[n] for n in g) for g in outs])


def view(x, dtype=None):
    """The same bytes read as `dtype` (NumPy's `ndarray.view`); the last axis scales by the
    ratio of item sizes. `dtype=None` returns `x` unchanged."""
    x = jnp.asarray(x)
    return x if dtype is None else x.view(dtype)
