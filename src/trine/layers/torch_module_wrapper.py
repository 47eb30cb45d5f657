"""TorchModuleWrapper: a PyTorch `nn.Module` as a trainable trine layer.

Keras offers this layer on its PyTorch backend only. trine runs the module's forward and
backward passes in PyTorch on the host (`host_bridge`), with the module's parameters held as
trine Variables: `fit` trains them, `save_weights` / `load_weights` store them. PyTorch is
imported only when such a layer is made.
"""
from __future__ import annotations

import jax
import numpy as np

from trine.core.layer import Layer
from trine.layers.host_bridge import as_struct, host_differentiable

__all__ = ["TorchModuleWrapper"]


def _to_numpy(tree):
    import torch
    if isinstance(tree, torch.Tensor):
        return tree.detach().cpu().numpy()
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to_numpy(t) for t in tree)
    if isinstance(tree, dict):
        return {k: _to_numpy(v) for k, v in tree.items()}
    raise TypeError(f"TorchModuleWrapper: the module returned a {type(tree).__name__}; "
                    "expected tensors (or a tuple / list / dict of them).")


def _tensors(arrays, grad=False):
    import torch
    return [torch.tensor(np.asarray(a), requires_grad=grad and np.asarray(a).dtype.kind == "f")
            for a in arrays]


class TorchModuleWrapper(Layer):
    """Wrap a PyTorch module as a layer whose parameters are trine Variables.

    Args:
        module: a `torch.nn.Module`, its parameters already made (not lazy).
        name: the layer's name.
        output_shape: the output shape without the batch axis, if the module's cannot be
            found by running it once on zeros.

    The module runs in PyTorch on the host at every call, in training mode when the layer is
    called with `training=True` (dropout, batch-norm statistics) and in evaluation mode
    otherwise; gradients come from PyTorch's autograd. Its buffers (batch-norm running
    statistics) stay in the module. A model holding this layer saves its weights, but not
    its architecture: PyTorch stores modules only as pickle, which runs code on load, and
    trine files never do. Rebuild the module in code, then `load_weights`.

    Example:
        >>> import torch
        >>> layer = TorchModuleWrapper(torch.nn.Linear(3, 2))
        >>> layer(np.ones((4, 3), np.float32)).shape
        (4, 2)
    """

    def __init__(self, module, name=None, output_shape=None, **kwargs):
        import torch
        if not isinstance(module, torch.nn.Module):
            raise ValueError(
                f"TorchModuleWrapper expected a torch.nn.Module, received "
                f"{type(module).__name__}. Pass the module itself, e.g. "
                "TorchModuleWrapper(torch.nn.Linear(3, 2)).")
        super().__init__(name=name, **kwargs)
        self.module = module
        self.output_shape = None if output_shape is None else tuple(output_shape)
        self._names = []
        self._params = []
        for pname, param in module.named_parameters():
            if isinstance(param, torch.nn.parameter.UninitializedParameter):
                raise ValueError(
                    f"TorchModuleWrapper '{self.name}': parameter '{pname}' of the module is "
                    "not initialized yet (a lazy module). Run the module once on an example "
                    "input before wrapping it.")
            value = param.detach().cpu().numpy()
            self._names.append(pname)
            self._params.append(self.add_weight(
                shape=value.shape, initializer=lambda s, d=None, v=value: v.astype(d or v.dtype),
                dtype=value.dtype.name, trainable=bool(param.requires_grad), name=pname))
        self._out_structs = {}
        self.built = True

    def parameters(self, recurse=True):
        """The module's parameters (as in Keras)."""
        return self.module.parameters(recurse=recurse)

    def _run(self, params, inputs, training):
        from torch.func import functional_call
        self.module.train(bool(training))
        return functional_call(self.module, dict(zip(self._names, params)), tuple(inputs))

    def _forward(self, training):
        def forward(params, inputs):
            import torch
            with torch.no_grad():
                return _to_numpy(self._run(_tensors(params), _tensors(inputs), training))
        return forward

    def _backward(self, training):
        def backward(params, inputs, cotangents):
            import torch
            p, x = _tensors(params, grad=True), _tensors(inputs, grad=True)
            with torch.enable_grad():
                out = self._run(p, x, training)
            outs = [o for o in jax.tree_util.tree_leaves(
                out, is_leaf=lambda t: isinstance(t, torch.Tensor))]
            cots = [torch.tensor(np.asarray(c)) for c in jax.tree_util.tree_leaves(cotangents)]
            wrt = [t for t in p + x if t.requires_grad]
            grads = iter(torch.autograd.grad(outs, wrt, cots, allow_unused=True))
            result = []
            for t in p + x:
                g = next(grads) if t.requires_grad else None
                result.append(np.zeros(t.shape, np.float32) if g is None
                              else g.detach().numpy())
            return result[:len(p)], result[len(p):]
        return backward

    def _out_struct(self, inputs, training):
        """Output shapes and dtypes, from one run of the module on zeros of the inputs'."""
        key = (tuple((x.shape, str(x.dtype)) for x in inputs), bool(training))
        if key not in self._out_structs:
            params = [p.detach().cpu().numpy() for p in self.module.parameters()]
            zeros = [np.zeros(x.shape, x.dtype) for x in inputs]
            self._out_structs[key] = as_struct(self._forward(training)(params, zeros))
        return self._out_structs[key]

    def call(self, *inputs, training=None):
        inputs = [jax.numpy.asarray(x) for x in inputs]
        fn = host_differentiable(self._forward(training), self._backward(training),
                                 self._out_struct(inputs, training))
        return fn([v.value for v in self._params], inputs)

    def compute_output_shape(self, input_shape):
        if self.output_shape is not None:
            return (input_shape[0],) + self.output_shape
        return super().compute_output_shape(input_shape)

    def get_config(self):
        raise NotImplementedError(
            f"TorchModuleWrapper '{self.name}' cannot be saved as a config: PyTorch stores "
            "modules only as pickle, which runs code when loaded, and trine files never do. "
            "Save the weights (model.save_weights), rebuild the module in code, wrap it again "
            "and call load_weights.")
