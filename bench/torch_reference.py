"""PyTorch eager training loops for the benchmark workloads (optional: used when torch is
installed). The issue's CPU targets quote PyTorch eager for W1 and W3; this measures it side
by side with the other systems instead of quoting another run.

Same models, optimizer settings, batch size and softmax + clipped crossentropy as
bench/reference.py; inputs arrive channels-last as trine's and are transposed once to
PyTorch's channels-first layout outside the timed loop.
"""
from __future__ import annotations

import numpy as np


def _model(name, torch):
    nn = torch.nn
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100),
                             nn.ReLU(), nn.Linear(100, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(5 * 5 * 64, 10))
    if name == "two_input":
        class TwoInput(nn.Module):
            def __init__(self):
                super().__init__()
                self.a, self.b = nn.Linear(784, 64), nn.Linear(784, 64)
                self.h, self.o = nn.Linear(128, 32), nn.Linear(32, 10)

            def forward(self, x):
                x1, x2 = x
                c = torch.cat([torch.relu(self.a(x1)), torch.relu(self.b(x2))], -1)
                return self.o(torch.tanh(self.h(c)))
        return TwoInput()
    raise ValueError(name)


class TorchReference:
    """One epoch of `model(x)` -> softmax -> clipped crossentropy -> step, per batch."""

    def __init__(self, model: str, optimizer: str, batch_size: int, seed: int = 0):
        import torch
        self.torch = torch
        torch.manual_seed(seed)
        self.net = _model(model, torch)
        self.bs = batch_size
        params = self.net.parameters()
        self.opt = (torch.optim.SGD(params, lr=0.01) if optimizer == "sgd"
                    else torch.optim.Adam(params, lr=1e-3, eps=1e-7))
        self.gen = torch.Generator().manual_seed(seed)

    def tensors(self, x, y):
        """Host arrays as tensors (channels-first for images), done once, outside timing."""
        t = self.torch
        if isinstance(x, (list, tuple)):
            xt = tuple(t.from_numpy(np.ascontiguousarray(a)) for a in x)
        elif x.ndim == 4:
            xt = t.from_numpy(np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2))))
        else:
            xt = t.from_numpy(np.ascontiguousarray(x))
        return xt, t.from_numpy(y.astype(np.int64))

    def run_epoch(self, xt, yt):
        t = self.torch
        n = yt.shape[0]
        perm = t.randperm(n, generator=self.gen)
        loss = None
        for s in range(n // self.bs):
            i = perm[s * self.bs:(s + 1) * self.bs]
            xb = tuple(a[i] for a in xt) if isinstance(xt, tuple) else xt[i]
            p = t.softmax(self.net(xb), -1).clamp(1e-7, 1 - 1e-7)
            loss = -t.log(p.gather(1, yt[i][:, None])).mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return loss.item()
