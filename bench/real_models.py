"""W5-W8 (issue 24): a CIFAR-shape ResNet, a Transformer encoder classifier, an LSTM text
classifier, and model churn (many fresh small models), each on trine, Keras 3 (JAX) and
PyTorch (eager, and `torch.compile` where it works), interleaved round by round.

Data is synthetic (random images / tokens with random labels) in the issue's shapes: these
workloads time arithmetic and dispatch, not learning. Run through `python -m bench`:

    python -m bench --workloads W5 W6 W7 W8 --rounds 3
    python -m bench --workloads W5 --small        # 512 samples, W8 with 8 models
"""
from __future__ import annotations

import statistics
import time

import numpy as np

# name: (batch, samples per epoch, loss)
REAL = {
    "W5": (128, 2048, "sparse_categorical_crossentropy"),
    "W6": (32, 2048, "sparse_categorical_crossentropy"),
    "W7": (64, 2048, "binary_crossentropy"),
}
DESCRIPTION = {
    "W5": "ResNet, CIFAR shapes 32x32x3: conv16+BN, 3 stages (16/32/64, stride 2 between) "
          "of 2 residual blocks, GAP, Dense 10; Adam",
    "W6": "Transformer encoder: vocab 2000, length 128, Embedding 128, 2 x (MHA 4x32 + "
          "residual + LN + Dense 512 relu + Dense 128 + residual + LN), GAP, Dense 2; Adam",
    "W7": "LSTM: vocab 10000, length 200, Embedding 64, LSTM 64, Dense 1 sigmoid; Adam",
    "W8": "churn: fresh Dense 64->128 relu->10 models, compile + fit 1 epoch of 2048 at "
          "batch 64 + evaluate + predict 100 rows, seconds per model",
}


def data(name, n, seed=0):
    rng = np.random.default_rng(seed)
    if name == "W5":
        return (rng.standard_normal((n, 32, 32, 3)).astype(np.float32),
                rng.integers(0, 10, n).astype(np.int32))
    if name == "W6":
        return rng.integers(0, 2000, (n, 128)).astype(np.int32), rng.integers(0, 2, n).astype(
            np.int32)
    if name == "W7":
        return (rng.integers(0, 10000, (n, 200)).astype(np.int32),
                rng.integers(0, 2, n).astype(np.float32))
    if name == "W8":
        return (rng.standard_normal((n, 64)).astype(np.float32),
                rng.integers(0, 10, n).astype(np.int32))
    raise ValueError(name)


def model(name, k):
    """The workload's model written once against the Keras API (`k` is trine or keras)."""
    L = k.layers
    if name == "W5":
        inp = k.Input((32, 32, 3))
        x = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(16, 3, padding="same")(inp)))
        for stage, f in enumerate((16, 32, 64)):
            for block in range(2):
                s = 2 if stage and not block else 1
                y = L.Conv2D(f, 3, strides=s, padding="same")(x)
                y = L.Activation("relu")(L.BatchNormalization()(y))
                y = L.BatchNormalization()(L.Conv2D(f, 3, padding="same")(y))
                short = x if s == 1 and x.shape[-1] == f else L.Conv2D(f, 1, strides=s)(x)
                x = L.Activation("relu")(L.Add()([y, short]))
        out = L.Dense(10, activation="softmax")(L.GlobalAveragePooling2D()(x))
        return k.Model(inp, out)
    if name == "W6":
        inp = k.Input((128,), dtype="int32")
        x = L.Embedding(2000, 128)(inp)
        for _ in range(2):
            a = L.MultiHeadAttention(num_heads=4, key_dim=32)(x, x)
            x = L.LayerNormalization()(L.Add()([x, a]))
            f = L.Dense(128)(L.Dense(512, activation="relu")(x))
            x = L.LayerNormalization()(L.Add()([x, f]))
        out = L.Dense(2, activation="softmax")(L.GlobalAveragePooling1D()(x))
        return k.Model(inp, out)
    if name == "W7":
        inp = k.Input((200,), dtype="int32")
        x = L.LSTM(64)(L.Embedding(10000, 64)(inp))
        return k.Model(inp, L.Dense(1, activation="sigmoid")(x))
    if name == "W8":
        return k.Sequential([k.Input((64,)), L.Dense(128, activation="relu"),
                             L.Dense(10, activation="softmax")])
    raise ValueError(name)


# ------------------------------------------------------------------------------ PyTorch
def torch_model(name, torch):
    nn = torch.nn
    if name == "W5":
        def bn(c):
            return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)

        class Block(nn.Module):
            def __init__(self, cin, f, s):
                super().__init__()
                self.c1, self.b1 = nn.Conv2d(cin, f, 3, s, 1), bn(f)
                self.c2, self.b2 = nn.Conv2d(f, f, 3, 1, 1), bn(f)
                self.proj = nn.Conv2d(cin, f, 1, s) if s != 1 or cin != f else None

            def forward(self, x):
                y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
                return torch.relu(y + (x if self.proj is None else self.proj(x)))

        layers, cin = [nn.Conv2d(3, 16, 3, 1, 1), bn(16), nn.ReLU()], 16
        for stage, f in enumerate((16, 32, 64)):
            for block in range(2):
                layers.append(Block(cin, f, 2 if stage and not block else 1))
                cin = f
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
        return nn.Sequential(*layers)
    if name == "W6":
        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(2000, 128)
                self.att = nn.ModuleList(nn.MultiheadAttention(128, 4, batch_first=True)
                                         for _ in range(2))
                self.ln1 = nn.ModuleList(nn.LayerNorm(128, eps=1e-3) for _ in range(2))
                self.ln2 = nn.ModuleList(nn.LayerNorm(128, eps=1e-3) for _ in range(2))
                self.ff = nn.ModuleList(nn.Sequential(nn.Linear(128, 512), nn.ReLU(),
                                                      nn.Linear(512, 128)) for _ in range(2))
                self.out = nn.Linear(128, 2)

            def forward(self, t):
                x = self.emb(t)
                for att, ln1, ff, ln2 in zip(self.att, self.ln1, self.ff, self.ln2):
                    x = ln1(x + att(x, x, x, need_weights=False)[0])
                    x = ln2(x + ff(x))
                return self.out(x.mean(1))
        return Encoder()
    if name == "W7":
        class Lstm(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(10000, 64)
                self.lstm = nn.LSTM(64, 64, batch_first=True)
                self.out = nn.Linear(64, 1)

            def forward(self, t):
                _, (h, _) = self.lstm(self.emb(t))
                return self.out(h[-1])[:, 0]
        return Lstm()
    if name == "W8":
        return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    raise ValueError(name)


class TorchRun:
    """A plain PyTorch training loop (logits + the matching built-in loss, Adam 1e-3)."""

    def __init__(self, name, bs, compiled=False, seed=0):
        import torch
        self.torch, self.name, self.bs = torch, name, bs
        torch.manual_seed(seed)
        self.net = torch_model(name, torch)
        self.fwd = torch.compile(self.net) if compiled else self.net
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3, eps=1e-7)
        self.loss = (torch.nn.BCEWithLogitsLoss() if name == "W7"
                     else torch.nn.CrossEntropyLoss())
        self.gen = torch.Generator().manual_seed(seed)

    def tensors(self, x, y):
        t = self.torch
        if x.ndim == 4:
            x = np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))
        xt = t.from_numpy(x.astype(np.int64) if x.dtype.kind == "i" else x)
        yt = t.from_numpy(y.astype(np.float32) if self.name == "W7" else y.astype(np.int64))
        return xt, yt

    def epoch(self, xt, yt):
        t = self.torch
        self.net.train()
        n = yt.shape[0]
        perm = t.randperm(n, generator=self.gen)
        loss = None
        for s in range(-(-n // self.bs)):
            i = perm[s * self.bs:(s + 1) * self.bs]
            loss = self.loss(self.fwd(xt[i]), yt[i])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        return loss.item()

    def predict(self, xt):
        t = self.torch
        self.net.eval()
        with t.no_grad():
            return [self.fwd(xt[s:s + self.bs]) for s in range(0, xt.shape[0], self.bs)]


# ------------------------------------------------------------------------------ runs
def _compile(m, name):
    loss = REAL[name][2] if name in REAL else "sparse_categorical_crossentropy"
    m.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return m


def _product_flops(jaxpr):
    """FLOPs of the matrix products and convolutions in `jaxpr`, a `scan` body counted once
    per iteration (XLA's cost analysis counts a loop body once: W7's 200-step LSTM read
    0.1 GFLOP where its products are about 10)."""
    total = 0.0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            (contract, _), _ = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            total += 2.0 * np.prod(eqn.outvars[0].aval.shape) * np.prod(
                [lhs[d] for d in contract])
        elif name == "conv_general_dilated":
            rhs, spec = eqn.invars[1].aval.shape, eqn.params["dimension_numbers"].rhs_spec
            # per output element: the kernel's spatial taps times its input features
            total += 2.0 * np.prod(eqn.outvars[0].aval.shape) * np.prod(
                [rhs[d] for d in spec[1:]])
        inner = 0.0
        for value in eqn.params.values():
            for sub in (value if isinstance(value, (tuple, list)) else (value,)):
                sub = getattr(sub, "jaxpr", sub)
                if hasattr(sub, "eqns"):
                    inner = max(inner, _product_flops(sub)) if name == "cond" else (
                        inner + _product_flops(sub))
        total += inner * (eqn.params["length"] if name == "scan" else 1)
    return total


def step_gflop(tm, x, y, name):
    """GFLOP of one training step at the workload's batch, counted as model FLOPs are: the
    forward pass's matrix products and convolutions (loop bodies times their trip count)
    times 3, for the forward pass and the two gradients (input, weights)."""
    import jax
    import jax.numpy as jnp
    bs = REAL[name][0]
    xb = jnp.asarray(x[:bs])
    params, state = tm.get_params(), tm.get_state()

    def forward(p):
        return tm.stateless_call(p, state, xb, training=True, rng=jax.random.key(0))[0]
    return 3 * _product_flops(jax.make_jaxpr(forward)(params).jaxpr) / 1e9


def run_real(name, rounds, log, samples=None, with_keras=True, with_torch=True,
             with_compile=True):
    import trine
    bs, n_default, loss = REAL[name]
    n = samples or n_default
    x, y = data(name, n)
    res = {"workload": name, "batch_size": bs, "samples": n, "model": DESCRIPTION[name]}
    systems = {}
    trine.utils.set_random_seed(0)
    tm = _compile(model(name, trine), name)
    systems["trine fit"] = lambda: tm.fit(x, y, batch_size=bs, epochs=1, verbose=0)
    systems["trine predict"] = lambda: tm.predict(x, batch_size=bs, verbose=0)
    if with_keras:
        try:
            import keras
            keras.utils.set_random_seed(0)
            km = _compile(model(name, keras), name)
            systems["Keras 3 fit"] = lambda: km.fit(x, y, batch_size=bs, epochs=1, verbose=0)
            systems["Keras 3 predict"] = lambda: km.predict(x, batch_size=bs, verbose=0)
        except ImportError as e:
            log(f"  {name}: no Keras rows ({e})")
    if with_torch:
        try:
            import torch
            torch.set_num_threads(max(1, __import__("os").cpu_count() or 1))
            tr = TorchRun(name, bs)
            xt, yt = tr.tensors(x, y)
            systems["PyTorch eager"] = lambda: tr.epoch(xt, yt)
            systems["PyTorch eager predict"] = lambda: tr.predict(xt)
            if with_compile:
                tc = TorchRun(name, bs, compiled=True)
                try:
                    tc.epoch(xt[:2 * bs], yt[:2 * bs])  # compile outside the rounds
                    systems["torch.compile"] = lambda: tc.epoch(xt, yt)
                except Exception as e:  # noqa: BLE001 - report why, keep the other rows
                    log(f"  {name}: torch.compile failed: {type(e).__name__}: "
                        f"{str(e).splitlines()[0][:200]}")
                    res["torch_compile_error"] = f"{type(e).__name__}: {str(e)[:300]}"
        except ImportError as e:
            log(f"  {name}: no PyTorch rows ({e})")
    times = {k: [] for k in systems}
    for r in range(rounds + 1):
        for k, fn in systems.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
        log(f"  {name} round {r}: " + "  ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items()))
    res["first_epoch_s"] = {k: v[0] for k, v in times.items()}
    res["steady_epoch_s"] = {k: statistics.median(v[1:]) for k, v in times.items()}
    res["rounds"] = times
    res["gflop_per_epoch"] = None
    g = step_gflop(tm, x, y, name)
    if g:
        res["gflop_per_epoch"] = g * (-(-n // bs))
    return res


def run_churn(rounds, log, models=40, with_keras=True, with_torch=True):
    """W8: `models` fresh models per system per round, interleaved model by model."""
    import trine
    x, y = data("W8", 2048)
    xp = x[:100]

    def one(k):
        m = _compile(model("W8", k), "W8")
        m.fit(x, y, batch_size=64, epochs=1, verbose=0)
        m.evaluate(x, y, batch_size=64, verbose=0)
        m.predict(xp, verbose=0)

    systems = {"trine": lambda: one(trine)}
    if with_keras:
        try:
            import keras
            systems["Keras 3"] = lambda: one(keras)
        except ImportError as e:
            log(f"  W8: no Keras row ({e})")
    if with_torch:
        try:
            import torch
            xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

            def torch_one():
                tr = TorchRun("W8", 64)
                tr.epoch(xt, yt)
                tr.predict(xt)  # evaluate's forward pass
                tr.predict(xt[:100])
            systems["PyTorch eager"] = torch_one
        except ImportError as e:
            log(f"  W8: no PyTorch row ({e})")
    times = {k: [] for k in systems}
    for r in range(rounds):
        tot = {k: 0.0 for k in systems}
        for _ in range(models):
            for k, fn in systems.items():
                t = time.perf_counter()
                fn()
                tot[k] += time.perf_counter() - t
        for k in systems:
            times[k].append(tot[k] / models)
        log(f"  W8 round {r}: " + "  ".join(f"{k} {v[-1]:.3f}s/model" for k, v in times.items()))
    return {"workload": "W8", "models_per_round": models, "model": DESCRIPTION["W8"],
            "seconds_per_model": {k: statistics.median(v) for k, v in times.items()},
            "rounds": times}


def print_real(report):
    rate = report.get("matmul_gflops")
    rows = [w for w in report["workloads"] if w["workload"] in REAL]
    if rows:
        print("\n| workload | system | first round s | steady s | trine / this |")
        print("|---|---|---|---|---|")
        for w in rows:
            st = w["steady_epoch_s"]
            for k in st:
                base = "trine predict" if "predict" in k else "trine fit"
                print(f"| {w['workload']} ({w['samples']} samples, batch {w['batch_size']}) | "
                      f"{k} | {w['first_epoch_s'][k]:.3f} | {st[k]:.3f} | "
                      f"{st[base] / st[k]:.2f} |")
        print(f"\nWhere the time goes (GFLOP: 3x the forward pass's products and convolutions, "
              f"loop bodies times their trip count; "
              f"floor at this device's float32 2048^3 matmul rate, {rate or 0:.0f} GFLOP/s)")
        print("| workload | GFLOP / epoch | floor s | steps | system | s / step | GFLOP/s "
              "(% of rate) |")
        print("|---|---|---|---|---|---|---|")
        for w in rows:
            g, st = w.get("gflop_per_epoch"), w["steady_epoch_s"]
            steps = -(-w["samples"] // w["batch_size"])
            for k in st:
                if "predict" in k:
                    continue
                rate_s = (f"{g / st[k]:.0f} ({100 * g / st[k] / rate:.0f}%)"
                          if g and rate else "-")
                print(f"| {w['workload']} | {g or 0:.1f} | "
                      f"{(g / rate) if g and rate else 0:.3f} | {steps} | {k} | "
                      f"{1e3 * st[k] / steps:.1f} ms | {rate_s} |")
    for w in report["workloads"]:
        if w["workload"] == "W8":
            spm = w["seconds_per_model"]
            print(f"\nW8 ({w['models_per_round']} models a round), seconds per model: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in spm.items())
                  + "".join(f"; trine / {k} {spm['trine'] / v:.2f}" for k, v in spm.items()
                            if k != "trine"))
