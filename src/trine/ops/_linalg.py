"""Linear algebra (Keras's `keras.ops.linalg` group)."""
from __future__ import annotations

import builtins as _bi

import jax
import jax.numpy as jnp

from trine.ops._dispatch import _axes, _float, _is_traced, _op


__all__ = [
    "norm", "cholesky", "cholesky_inverse", "det", "inv", "solve", "solve_triangular", "eig",
    "eigh", "qr", "svd", "lstsq", "lu_factor", "matrix_rank", "pinv"]


@_op
def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm (`jnp.linalg.norm`); integer inputs are promoted to float."""
    return jnp.linalg.norm(_float(x), ord=ord, axis=_axes(axis), keepdims=keepdims)


@_op
def cholesky(x, upper=False):
    """Cholesky factor of a positive-definite matrix (lower, or upper when `upper`)."""
    out = jnp.linalg.cholesky(x, upper=upper)
    if not _is_traced(out) and _bi.bool(jnp.any(jnp.isnan(out))):
        raise ValueError("cholesky: the decomposition failed; the input is not a symmetric "
                         "positive-definite matrix.")
    return out


@_op
def cholesky_inverse(x, upper=False):
    """Inverse of `A` from its Cholesky factor `x` (`A = x @ x.T`, or `x.T @ x` if upper)."""
    x = jnp.asarray(x)
    eye = jnp.broadcast_to(jnp.eye(x.shape[-1], dtype=x.dtype), x.shape)
    inv_f = jax.scipy.linalg.solve_triangular(x, eye, lower=not upper)
    inv_t = jnp.swapaxes(inv_f, -1, -2)
    return inv_f @ inv_t if upper else inv_t @ inv_f


@_op
def det(x):
    """Determinant of square matrices."""
    return jnp.linalg.det(x)


@_op
def inv(x):
    """Inverse of square matrices."""
    return jnp.linalg.inv(x)


@_op
def solve(a, b):
    """`x` with `a @ x = b`."""
    return jnp.linalg.solve(a, b)


@_op
def solve_triangular(a, b, lower=False):
    """`x` with `a @ x = b` for a triangular `a` (lower when `lower`)."""
    return jax.scipy.linalg.solve_triangular(a, b, lower=lower)


@_op
def eig(x):
    """`(eigenvalues, eigenvectors)` of a square matrix (complex; CPU only in JAX)."""
    w, v = jnp.linalg.eig(x)
    return w, v


@_op
def eigh(x):
    """`(eigenvalues, eigenvectors)` of a symmetric (Hermitian) matrix, ascending."""
    w, v = jnp.linalg.eigh(x)
    return w, v


@_op
def qr(x, mode="reduced"):
    """`(q, r)` of the QR decomposition; `mode` is "reduced" or "complete"."""
    if mode not in ("reduced", "complete"):
        raise ValueError("qr: argument `mode` must be 'reduced' or 'complete', received "
                         f"mode={mode!r}.")
    q, r = jnp.linalg.qr(x, mode=mode)
    return q, r


@_op
def svd(x, full_matrices=True, compute_uv=True):
    """`(u, s, vh)` of the singular value decomposition, or `s` alone if not compute_uv."""
    out = jnp.linalg.svd(x, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


@_op
def lstsq(a, b, rcond=None):
    """The least-squares solution `x` of `a @ x = b`."""
    return jnp.linalg.lstsq(a, b, rcond=rcond)[0]


@_op
def lu_factor(x):
    """`(lu, pivots)`: the LU factorization of (batches of) square matrices."""
    lu, piv = jax.scipy.linalg.lu_factor(x)
    return lu, piv


def _check_matrix(x, op):
    x = jnp.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{op}: expected an input of rank >= 2, received shape "
                         f"{tuple(x.shape)}.")
    return x


@_op
def matrix_rank(x, tol=None):
    """Rank of matrices: the number of singular values above `tol` (int32)."""
    x = _check_matrix(x, "matrix_rank")
    if tol is None:
        return jnp.linalg.matrix_rank(x).astype(jnp.int32)
    return jnp.linalg.matrix_rank(x, tol=tol).astype(jnp.int32)


@_op
def pinv(x, rcond=None):
    """Moore-Penrose pseudo-inverse; singular values below `rcond` times the largest are
    dropped."""
    return jnp.linalg.pinv(_check_matrix(x, "pinv"), rtol=rcond)
