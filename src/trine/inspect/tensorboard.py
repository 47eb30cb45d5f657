"""`TensorBoard`: Keras's TensorBoard callback, written with tensorboardX (no TensorFlow).

The log folder layout and tag names are Keras's, so dashboards and scripts written for Keras
runs read trine runs unchanged:

    log_dir/train/       epoch_loss, epoch_<metric>, epoch_learning_rate,
                         epoch_steps_per_second, batch_<name> (update_freq), weight histograms
                         "<weight path>/histogram", the model graph, profiles (plugins/profile)
    log_dir/validation/  epoch_loss, epoch_<metric> (from the val_* logs),
                         evaluation_<name>_vs_iterations (each validation in fit, and evaluate)

tensorboardX is the lighter writer (pure Python + protobuf); install it with
`pip install trine[tensorboard]`. Under fused steps the batch summaries come from the per-step
logs fit brings back for callbacks; fit then fetches them once per chunk, so keep
`update_freq="epoch"` (the default) when speed matters.

    tb = trine.callbacks.TensorBoard("logs/run1", histogram_freq=1)
    model.fit(x, y, epochs=5, validation_split=0.1, callbacks=[tb])
"""
from __future__ import annotations

import os
import time
from typing import Optional, Union

import numpy as np

from trine.inspect.trace import trace
from trine.training.callbacks.base import Callback

__all__ = ["TensorBoard"]


def _writer_class():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError(
            "trine.callbacks.TensorBoard writes event files with tensorboardX, which is not "
            "installed. Install it with `pip install tensorboardX` (or `pip install "
            "trine[tensorboard]`).") from None
    return SummaryWriter


def _parse_profile_batch(profile_batch):
    message = ("TensorBoard: profile_batch must be a non-negative integer or a pair of "
               "positive integers (start, stop), or a string 'start,stop'; received "
               f"{profile_batch!r}.")
    if isinstance(profile_batch, str):
        try:
            profile_batch = [int(p) for p in profile_batch.split(",")]
        except ValueError:
            raise ValueError(message) from None
        if len(profile_batch) == 1:
            profile_batch = profile_batch[0]
    if isinstance(profile_batch, bool):
        raise ValueError(message)
    if isinstance(profile_batch, int):
        start = stop = profile_batch
    elif isinstance(profile_batch, (tuple, list)) and len(profile_batch) == 2:
        start, stop = (int(p) for p in profile_batch)
    else:
        raise ValueError(message)
    if start < 0 or stop < start:
        raise ValueError(message)
    return start, stop


def _graph_nodes(model):
    """(name, op, [input names]) per layer of the model's graph (subclassed models traced)."""
    graph = trace(model)
    layers = graph.get_config()["layers"]

    def sources(obj, found):
        if isinstance(obj, dict):
            history = obj.get("config", {}).get("keras_history") if isinstance(
                obj.get("config"), dict) else None
            if obj.get("class_name") == "__keras_tensor__" and history:
                found.append(history[0])
            else:
                for v in obj.values():
                    sources(v, found)
        elif isinstance(obj, (list, tuple)):
            for v in obj:
                sources(v, found)
        return found

    return [(layer["name"], layer["class_name"], sources(layer.get("inbound_nodes", []), []))
            for layer in layers]


class TensorBoard(Callback):
    """Write TensorBoard logs of a fit: scalars, weight histograms, the graph, profiles.

    Args:
        log_dir: folder of the run; `train/` and `validation/` are written under it.
        histogram_freq: write weight histograms every this many epochs (0: never).
        write_graph: write the model's layer graph (shown in TensorBoard's Graphs tab).
        write_images: with `histogram_freq`, also write 1-D and 2-D weights as images.
        write_steps_per_second: log `epoch_steps_per_second` (and `batch_steps_per_second`
            with batch-level logging).
        update_freq: "epoch" (default), "batch", or N: write `batch_<name>` scalars every N
            training steps.
        profile_batch: a step (1-based) or (start, stop) range to profile with
            `jax.profiler`; the trace lands in `log_dir/train/plugins/profile` and opens in
            TensorBoard's profiler or Perfetto. 0 disables profiling.
        embeddings_freq: write the `Embedding` layers' tables for the projector every this
            many epochs (0: never).
        embeddings_metadata: a file of labels for the embeddings, or a dict
            {layer name: file}.

    Raises:
        ValueError: for a bad `update_freq` / `profile_batch`, or a `log_dir` that cannot be
            created or written (when training starts).
        ImportError: when tensorboardX is not installed (when training starts).
    """

    def __init__(self, log_dir: Union[str, os.PathLike] = "logs", histogram_freq: int = 0,
                 write_graph: bool = True, write_images: bool = False,
                 write_steps_per_second: bool = False, update_freq: Union[str, int] = "epoch",
                 profile_batch: Union[int, str, tuple] = 0, embeddings_freq: int = 0,
                 embeddings_metadata: Optional[Union[str, dict]] = None):
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.write_graph = bool(write_graph)
        self.write_images = bool(write_images)
        self.write_steps_per_second = bool(write_steps_per_second)
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (isinstance(update_freq, bool)
                                       or not isinstance(update_freq, int) or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive "
                             f"integer, received {update_freq!r}.")
        self.update_freq = update_freq
        self._start_batch, self._stop_batch = _parse_profile_batch(profile_batch)
        self.embeddings_freq = int(embeddings_freq)
        self.embeddings_metadata = embeddings_metadata
        self._writers = {}
        self._tracing = False
        self._training = False
        self._train_step = 0
        self._test_step = 0
        self._epoch_start = None
        self._epoch_steps = 0
        self._graph_written = False
        # Batch hooks only when needed: any batch hook makes fit bring every step's logs back.
        if self.update_freq != "epoch" or self._stop_batch > 0:
            self.on_train_batch_begin = self._train_batch_begin
            self.on_train_batch_end = self._train_batch_end

    # ------------------------------------------------------------------ writers
    @property
    def _train_dir(self) -> str:
        return os.path.join(self.log_dir, "train")

    @property
    def _val_dir(self) -> str:
        return os.path.join(self.log_dir, "validation")

    def _writer(self, which: str):
        if which not in self._writers:
            path = self._train_dir if which == "train" else self._val_dir
            self._writers[which] = _writer_class()(path, flush_secs=5)
        return self._writers[which]

    def _check_log_dir(self) -> None:
        try:
            os.makedirs(self.log_dir, exist_ok=True)
            probe = os.path.join(self.log_dir, f".trine-write-probe-{os.getpid()}")
            with open(probe, "wb"):
                pass
            os.remove(probe)
        except OSError as e:
            raise ValueError(
                f"TensorBoard: log_dir {self.log_dir!r} cannot be written ({e.strerror or e}). "
                "Pass a log_dir in a folder you can write to.") from e

    def _close(self) -> None:
        for w in self._writers.values():
            w.close()
        self._writers = {}

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs=None):
        self._check_log_dir()
        _writer_class()  # fail early with the install hint
        self._training = True
        self._train_step = 0
        if self.write_graph and not self._graph_written:
            self._write_graph()
            self._graph_written = True

    def on_train_end(self, logs=None):
        if self._tracing:
            self._stop_trace()
        self._training = False
        self._close()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._epoch_steps = 0

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        lr = self._learning_rate()
        if lr is not None:
            train["learning_rate"] = lr
        if self.write_steps_per_second:
            steps = self._epoch_steps or (self.params or {}).get("steps")
            if steps and self._epoch_start is not None:
                train["steps_per_second"] = steps / max(time.perf_counter() - self._epoch_start,
                                                        1e-9)
        w = self._writer("train")
        for name, value in train.items():
            w.add_scalar(f"epoch_{name}", _scalar(value), epoch)
        if val:
            vw = self._writer("validation")
            for name, value in val.items():
                vw.add_scalar(f"epoch_{name}", _scalar(value), epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self._log_embeddings(epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_test_end(self, logs=None):
        if not logs:
            return
        w = self._writer("validation")
        step = int(getattr(self._model, "_step", self._train_step))  # Keras: optimizer.iterations
        for name, value in logs.items():
            w.add_scalar(f"evaluation_{name}_vs_iterations", _scalar(value), step)
        if self._training:
            w.flush()
        else:  # a standalone evaluate: nothing else will close the files
            self._close()

    def _train_batch_begin(self, batch, logs=None):
        self._train_step += 1
        self._epoch_steps += 1
        self._batch_start = time.perf_counter()
        if self._stop_batch and self._train_step == self._start_batch:
            self._start_trace()

    def _train_batch_end(self, batch, logs=None):
        if self.update_freq != "epoch" and self._train_step % self.update_freq == 0:
            w = self._writer("train")
            if self.write_steps_per_second:
                w.add_scalar("batch_steps_per_second",
                             1.0 / max(time.perf_counter() - self._batch_start, 1e-9),
                             self._train_step)
            for name, value in (logs or {}).items():
                w.add_scalar(f"batch_{name}", _scalar(value), self._train_step)
        if self._tracing and self._train_step >= self._stop_batch:
            self._stop_trace()

    # ------------------------------------------------------------------ pieces
    def _learning_rate(self) -> Optional[float]:
        lr = getattr(getattr(self._model, "optimizer", None), "learning_rate", None)
        if lr is None:
            return None
        if callable(lr):
            if not self._train_step:
                return None  # a schedule's value needs the step count (batch-level logging)
            lr = lr(self._train_step)
        try:
            return float(np.asarray(lr))
        except (TypeError, ValueError):
            return None

    def _write_graph(self) -> None:
        import warnings
        from tensorboardX.proto import attr_value_pb2, graph_pb2, node_def_pb2
        try:
            nodes = _graph_nodes(self.model)
        except Exception as e:  # noqa: BLE001 - the graph is an aid; training goes on
            warnings.warn(f"TensorBoard: write_graph could not trace model "
                          f"'{self.model.name}' ({e}); no graph written.", stacklevel=3)
            return
        graph = graph_pb2.GraphDef()
        for name, op, inputs in nodes:
            graph.node.append(node_def_pb2.NodeDef(
                name=name, op=op, input=inputs,
                attr={"_output_shapes": attr_value_pb2.AttrValue()}))
        from tensorboardX.proto import event_pb2
        writer = self._writer("train")
        writer._get_file_writer().add_event(
            event_pb2.Event(graph_def=graph.SerializeToString()), None, None)
        writer.flush()

    def _log_weights(self, epoch: int) -> None:
        w = self._writer("train")
        for v in self.model.weights:
            name = v.path.replace(":", "_")
            value = np.asarray(v.numpy() if hasattr(v, "numpy") else v)
            w.add_histogram(f"{name}/histogram", value.astype(np.float64), epoch)
            if self.write_images and value.ndim in (1, 2):
                img = value.reshape(1, -1) if value.ndim == 1 else value
                if img.shape[0] > img.shape[1]:
                    img = img.T
                lo, hi = float(img.min()), float(img.max())
                img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
                w.add_image(f"{name}/image", img[None].astype(np.float32), epoch,
                            dataformats="CHW")

    def _log_embeddings(self, epoch: int) -> None:
        w = self._writer("train")
        for layer in self.model.layers:
            if type(layer).__name__ != "Embedding":
                continue
            table = np.asarray(layer.embeddings.numpy())
            meta = self.embeddings_metadata
            if isinstance(meta, dict):
                meta = meta.get(layer.name)
            labels = None
            if isinstance(meta, (str, os.PathLike)):
                with open(meta, encoding="utf-8") as f:
                    labels = [line.rstrip("\n") for line in f][:len(table)]
            w.add_embedding(table, metadata=labels, tag=layer.name, global_step=epoch)

    def _start_trace(self) -> None:
        import jax
        os.makedirs(self._train_dir, exist_ok=True)
        jax.profiler.start_trace(self._train_dir)
        self._tracing = True

    def _stop_trace(self) -> None:
        import jax
        jax.profiler.stop_trace()
        self._tracing = False


def _scalar(value) -> float:
    return float(np.asarray(value).reshape(-1)[0]) if np.size(value) else float("nan")
