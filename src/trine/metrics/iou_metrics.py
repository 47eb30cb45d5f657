"""Intersection-over-union metrics: IoU = TP / (TP + FP + FN) from a confusion matrix."""
from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp
import numpy as np

from trine.losses.base import EPSILON, as_array
from trine.metrics.base import Metric, _auto_name


def _check_int(who: str, arg: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{who}: {arg} must be an integer >= {low}, received {arg}={value!r}.")
    return int(value)


class IoU(Metric):
    """Intersection-over-union, `TP / (TP + FP + FN)`, averaged over `target_class_ids`.

    Classes absent from both labels and predictions are left out of the average. Labels or
    predictions outside `[0, num_classes)`, and labels equal to `ignore_class`, are not
    counted. With the default int32 dtype, sample weights are truncated to integers (as in
    Keras); pass `dtype="float32"` for fractional weights.

    Args:
        num_classes: the number of classes.
        target_class_ids: the class ids whose IoU is averaged.
        name: default "io_u" (then "io_u_1", ...).
        dtype: the confusion matrix's dtype. Default int32.
        ignore_class: a label value left out, e.g. a void class.
        sparse_y_true: labels are class ids (True) or one-hot / scores (False: argmax).
        sparse_y_pred: predictions are class ids (True) or scores (False: argmax).
        axis: the class axis for the argmax. Default -1.

    Raises:
        ValueError: for a bad num_classes, or a target class id outside the classes.

    Example:
        >>> m = IoU(num_classes=2, target_class_ids=[0])
        >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
        >>> round(float(m.result()), 4)
        0.3333
    """

    def __init__(self, num_classes: int, target_class_ids: Sequence[int], name=None,
                 dtype=None, ignore_class=None, sparse_y_true: bool = True,
                 sparse_y_pred: bool = True, axis: int = -1):
        who = type(self).__name__
        num_classes = _check_int(who, "num_classes", num_classes, 1)
        super().__init__(name=name or _auto_name(who), dtype=dtype or "int32")
        ids = list(target_class_ids) if isinstance(
            target_class_ids, (list, tuple, np.ndarray, range)) else None
        if not ids or any(isinstance(i, bool) or not isinstance(i, (int, np.integer))
                          for i in ids):
            raise ValueError(
                f"{who}: target_class_ids must be a non-empty list of class ids, received "
                f"{target_class_ids!r}. Pass e.g. target_class_ids=[0, 1].")
        if max(ids) >= num_classes or min(ids) < 0:
            raise ValueError(
                f"{who}: target class id {max(ids) if max(ids) >= num_classes else min(ids)} "
                f"is out of range [0, {num_classes}). Use ids below num_classes={num_classes}.")
        self.num_classes = num_classes
        self.target_class_ids = [int(i) for i in ids]
        self.ignore_class = ignore_class
        self.sparse_y_true = bool(sparse_y_true)
        self.sparse_y_pred = bool(sparse_y_pred)
        self.axis = axis
        self.total_cm = self.add_variable((num_classes, num_classes), "zeros",
                                          name="total_confusion_matrix")

    def _labels(self, y_true, y_pred):
        y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
        if not self.sparse_y_true:
            y_true = jnp.argmax(y_true, axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = jnp.argmax(y_pred, axis=self.axis)
        return y_true, y_pred

    def _update(self, state, y_true, y_pred, sample_weight=None):
        (cm,) = state
        dtype = self.dtype
        y_true, y_pred = self._labels(y_true, y_pred)
        y_true = as_array(y_true, dtype).reshape(-1)
        y_pred = as_array(y_pred, dtype).reshape(-1)
        if y_true.shape != y_pred.shape:
            raise ValueError(
                f"{type(self).__name__} expected as many labels as predictions, received "
                f"{y_true.shape[0]} labels and {y_pred.shape[0]} predictions.")
        sw = jnp.asarray(1 if sample_weight is None else sample_weight)
        sw = jnp.broadcast_to(sw.astype(dtype).reshape(-1) if sw.ndim > 1 else sw.astype(dtype),
                              y_true.shape)
        n = self.num_classes
        valid = (y_true >= 0) & (y_true < n) & (y_pred >= 0) & (y_pred < n)
        if self.ignore_class is not None:
            valid = valid & (y_true != self.ignore_class)
        t = jnp.where(valid, y_true, 0).astype(jnp.int32)
        p = jnp.where(valid, y_pred, 0).astype(jnp.int32)
        w = jnp.where(valid, sw, jnp.zeros((), dtype))
        return [cm + jnp.zeros((n, n), dtype).at[t, p].add(w)]

    def _result(self, state):
        (cm,) = state
        cm = cm.astype(jnp.float32)
        tp = jnp.diag(cm)
        denom = jnp.sum(cm, axis=0) + jnp.sum(cm, axis=1) - tp
        ids = jnp.asarray(self.target_class_ids, jnp.int32)
        tp, denom = tp[ids], denom[ids]
        valid = denom > 1e-9
        iou = jnp.where(valid, tp / (denom + EPSILON), 0.0)
        return jnp.sum(iou, axis=self.axis) / (jnp.sum(valid.astype(jnp.float32)) + EPSILON)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes,
                "target_class_ids": self.target_class_ids, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class BinaryIoU(IoU):
    """IoU for binary labels, with predictions thresholded: `y_pred >= threshold` is class 1.

    Args:
        target_class_ids: which of classes 0 and 1 are averaged. Default (0, 1).
        threshold: the decision threshold. Default 0.5.
        name: default "binary_io_u".
        dtype: Default int32.

    Example:
        >>> m = BinaryIoU(target_class_ids=[1])
        >>> m.update_state([0, 1, 1], [0.2, 0.7, 0.4])
        >>> round(float(m.result()), 4)
        0.5
    """

    def __init__(self, target_class_ids: Sequence[int] = (0, 1), threshold: float = 0.5,
                 name=None, dtype=None):
        super().__init__(num_classes=2, target_class_ids=target_class_ids,
                         name=name or _auto_name("BinaryIoU"), dtype=dtype)
        self.threshold = threshold

    def _update(self, state, y_true, y_pred, sample_weight=None):
        y_pred = (jnp.asarray(y_pred, jnp.float32) >= self.threshold).astype(self.dtype)
        return IoU._update(self, state, as_array(y_true, self.dtype), y_pred, sample_weight)

    def get_config(self) -> dict:
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold,
                "name": self.name, "dtype": self.dtype}


class MeanIoU(IoU):
    """IoU averaged over all `num_classes` classes (those present).

    Args:
        num_classes: the number of classes.
        name: default "mean_io_u".
        dtype: Default int32.
        ignore_class: a label value left out.
        sparse_y_true: labels are class ids. Default True.
        sparse_y_pred: predictions are class ids. Default True.
        axis: the class axis for the argmax. Default -1.
    """

    def __init__(self, num_classes: int, name=None, dtype=None, ignore_class=None,
                 sparse_y_true: bool = True, sparse_y_pred: bool = True, axis: int = -1):
        num_classes = _check_int(type(self).__name__, "num_classes", num_classes, 1)
        super().__init__(num_classes=num_classes, target_class_ids=list(range(num_classes)),
                         name=name or _auto_name(type(self).__name__), dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict:
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_true": self.sparse_y_true,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotIoU(IoU):
    """IoU for one-hot labels and score predictions (both argmaxed along `axis`).

    Args:
        num_classes: the number of classes.
        target_class_ids: the class ids averaged.
        name: default "one_hot_io_u".
        dtype: Default int32.
        ignore_class: a class id left out.
        sparse_y_pred: predictions are already class ids. Default False.
        axis: the class axis. Default -1.
    """

    def __init__(self, num_classes: int, target_class_ids: Sequence[int], name=None,
                 dtype=None, ignore_class=None, sparse_y_pred: bool = False, axis: int = -1):
        super().__init__(num_classes=num_classes, target_class_ids=target_class_ids,
                         name=name or _auto_name("OneHotIoU"), dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict:
        return {"num_classes": self.num_classes, "target_class_ids": self.target_class_ids,
                "name": self.name, "dtype": self.dtype, "ignore_class": self.ignore_class,
                "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}


class OneHotMeanIoU(MeanIoU):
    """Mean IoU for one-hot labels and score predictions (both argmaxed along `axis`).

    Args:
        num_classes: the number of classes.
        name: default "one_hot_mean_io_u".
        dtype: Default int32.
        ignore_class: a class id left out.
        sparse_y_pred: predictions are already class ids. Default False.
        axis: the class axis. Default -1.
    """

    def __init__(self, num_classes: int, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred: bool = False, axis: int = -1):
        super().__init__(num_classes=num_classes, name=name or _auto_name("OneHotMeanIoU"),
                         dtype=dtype, ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict:
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype,
                "ignore_class": self.ignore_class, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}

