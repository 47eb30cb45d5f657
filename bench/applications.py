"""Applications at ImageNet sizes (weights=None, 224x224x3, 1000 classes) at batch 32 on
trine, Keras 3 (JAX) and PyTorch eager: predict of one batch and one training step (SGD,
sparse categorical crossentropy), interleaved round by round.

    A1 (issue 23): ResNet50
    A2 (issue 24): MobileNetV2, whose depthwise convolutions XLA's CPU backend runs slowly

Round 0 is each system's first call (trine's and Keras's include XLA's compile); the steady
figures are medians of the later rounds. PyTorch runs torchvision's model when torchvision
is installed, else the Keras layer sizes written in bench/torch_resnet50.py and
bench/torch_mobilenet_v2.py. Run through the bench:

    python -m bench --workloads A1 A2 --rounds 2 --json bench/results/cpu-a1-a2.json
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np

APPLICATIONS = {"A1": "ResNet50", "A2": "MobileNetV2"}
BATCH, SIZE, CLASSES = 32, 224, 1000


def batch(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((BATCH, SIZE, SIZE, 3)).astype(np.float32),
            rng.integers(0, CLASSES, BATCH).astype(np.int32))


def keras_api_model(k, name="ResNet50"):
    """`name` from `k.applications` (`k` is trine or keras), compiled for one SGD step."""
    m = getattr(k.applications, name)(weights=None, input_shape=(SIZE, SIZE, 3),
                                      classes=CLASSES)
    m.compile(optimizer=k.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    return m


def torch_model(torch, name):
    """torchvision's `name` where installed, else the hand-written one of the same sizes."""
    module = {"ResNet50": "resnet50", "MobileNetV2": "mobilenet_v2"}[name]
    try:
        import torchvision.models
        return (getattr(torchvision.models, module)(weights=None, num_classes=CLASSES),
                f"torchvision {module}")
    except ImportError:
        import importlib
        source = importlib.import_module(f"bench.torch_{module}")
        return getattr(source, module)(torch, CLASSES), f"bench/torch_{module}.py"


class TorchStep:
    """Eager predict (eval, no_grad) and one SGD step on logits + cross-entropy."""

    def __init__(self, x, y, name="ResNet50", seed=0):
        import torch
        self.torch = torch
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        torch.manual_seed(seed)
        self.net, self.source = torch_model(torch, name)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=0.01)
        self.loss = torch.nn.CrossEntropyLoss()
        # channels-first once, outside the timing
        self.x = torch.from_numpy(np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2))))
        self.y = torch.from_numpy(y.astype(np.int64))

    def predict(self):
        self.net.eval()
        with self.torch.no_grad():
            return self.net(self.x).numpy()

    def train_step(self):
        self.net.train()
        loss = self.loss(self.net(self.x), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.item()


def run_application(name, rounds, log, with_keras=True, with_torch=True):
    import trine
    x, y = batch()
    res = {"workload": name, "model": APPLICATIONS[name], "batch_size": BATCH,
           "input": [SIZE, SIZE, 3], "classes": CLASSES}
    predict, train = {}, {}
    trine.utils.set_random_seed(0)
    tm = keras_api_model(trine, APPLICATIONS[name])
    predict["trine"] = lambda: tm.predict(x, batch_size=BATCH, verbose=0)
    train["trine"] = lambda: tm.train_on_batch(x, y)
    if with_keras:
        try:
            import keras
            keras.utils.set_random_seed(0)
            km = keras_api_model(keras, APPLICATIONS[name])
            predict["Keras 3 (JAX)"] = lambda: km.predict(x, batch_size=BATCH, verbose=0)
            train["Keras 3 (JAX)"] = lambda: km.train_on_batch(x, y)
        except ImportError as e:  # say so: a table without its Keras rows looks complete
            log(f"  {name}: no Keras rows ({e})")
    if with_torch:
        try:
            ts = TorchStep(x, y, APPLICATIONS[name])
            res["torch_model"] = ts.source
            predict["PyTorch eager"], train["PyTorch eager"] = ts.predict, ts.train_step
        except ImportError as e:
            log(f"  {name}: no PyTorch rows ({e})")
    systems = {**{f"{k} predict": fn for k, fn in predict.items()},
               **{f"{k} train step": fn for k, fn in train.items()}}
    times = {k: [] for k in systems}
    for r in range(rounds + 1):
        for k, fn in systems.items():
            t = time.perf_counter()
            np.asarray(fn())  # train_on_batch returns the loss: converting it waits for it
            times[k].append(time.perf_counter() - t)
        log(f"  {name} round {r}: " + "  ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()))
    res["first_s"] = {k: v[0] for k, v in times.items()}
    res["steady_s"] = {k: statistics.median(v[1:]) for k, v in times.items()}
    res["rounds"] = times
    st = res["steady_s"]
    res["ratios"] = {f"trine {kind} / {k}": st[f"trine {kind}"] / st[k]
                     for kind in ("predict", "train step") for k in st
                     if k.endswith(kind) and not k.startswith("trine")}
    return res


def print_applications(report):
    rows = [w for w in report["workloads"] if w["workload"] in APPLICATIONS]
    for w in rows:
        src = f"; PyTorch: {w['torch_model']}" if w.get("torch_model") else ""
        print(f"\n{w['workload']}: {w['model']} weights=None, batch {w['batch_size']} x "
              f"{'x'.join(map(str, w['input']))}, {w['classes']} classes{src}")
        print("| system | first call s | steady s | trine / this |")
        print("|---|---|---|---|")
        st = w["steady_s"]
        for k in st:
            base = "trine predict" if k.endswith("predict") else "trine train step"
            print(f"| {k} | {w['first_s'][k]:.2f} | {st[k]:.2f} | {st[base] / st[k]:.2f} |")
