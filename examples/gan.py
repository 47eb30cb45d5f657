"""A GAN on Fashion-MNIST: two sub-models, two optimizers, one custom `train_step`.

The generator and the discriminator are ordinary models held by a `GAN` model. `fit` runs
the GAN's `train_step`, a pure function of the training state, which updates the
discriminator and then the generator in the same step, each with its own optimizer. Both
optimizers' states travel in the state's one optimizer slot as a dict (see
`PerModelOptimizers`), so `fit` keeps its callbacks, progress output and fused steps.

    python examples/gan.py --epochs 10 --samples 20000 --out gan_samples.png
"""
from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import trine as keras


# ----------------------------------------------------------------------------- helpers
def select(values, variables, subset):
    """The entries of `values` (aligned with `variables`) that belong to the Variables `subset`."""
    pos = {id(v): i for i, v in enumerate(variables)}
    return [values[pos[id(v)]] for v in subset]


def scatter(values, variables, subset, new):
    """`values` with the entries of the Variables `subset` replaced by `new`."""
    pos = {id(v): i for i, v in enumerate(variables)}
    out = list(values)
    for v, x in zip(subset, new):
        out[pos[id(v)]] = x
    return out


class PerModelOptimizers(keras.optimizers.Optimizer):
    """Several optimizers in the training state's one optimizer slot, one per sub-model.

    `fit` builds it on all the model's trainable variables; it builds each optimizer on its
    own sub-model's variables, and its state is `{name: that optimizer's state}`. A custom
    `train_step` reads `state[2][name]`, updates it with that optimizer's `stateless_apply`
    and returns the dict in the same slot. `stateless_apply` updates every group at once.

    Args:
        **groups: `name=(optimizer, sub_model)`; the optimizer may be a name or an instance.

    Example:
        >>> opt = PerModelOptimizers(generator=("adam", gen), discriminator=("adam", disc))
    """

    def __init__(self, **groups):
        super().__init__(learning_rate=0.0, name="per_model_optimizers")
        self.groups = {name: (keras.optimizers.get(opt), model)
                       for name, (opt, model) in groups.items()}
        self._variables = []

    @property
    def learning_rate(self):
        return None  # each optimizer keeps its own rate; fit has nothing to push

    def build(self, variables, paths=None) -> None:
        self._variables = list(variables)
        for opt, model in self.groups.values():
            opt.build(model.trainable_variables)

    def init_state(self, trainable_values):
        return {name: opt.init_state(select(trainable_values, self._variables,
                                            model.trainable_variables))
                for name, (opt, model) in self.groups.items()}

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        values, state = list(trainable_variables), {}
        for name, (opt, model) in self.groups.items():
            sub = model.trainable_variables
            new, state[name] = opt.stateless_apply(
                optimizer_variables[name], select(grads, self._variables, sub),
                select(values, self._variables, sub))
            values = scatter(values, self._variables, sub, new)
        return values, state


# ----------------------------------------------------------------------------- models
def make_generator(latent_dim: int = 64, hidden: int = 256) -> keras.Model:
    return keras.Sequential([
        keras.Input((latent_dim,)),
        keras.layers.Dense(hidden, activation="leaky_relu"),
        keras.layers.Dense(hidden, activation="leaky_relu"),
        keras.layers.Dense(28 * 28, activation="sigmoid"),
        keras.layers.Reshape((28, 28)),
    ], name="generator")


def make_discriminator(hidden: int = 256, dropout: float = 0.3) -> keras.Model:
    return keras.Sequential([
        keras.Input((28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(hidden, activation="leaky_relu"),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(hidden, activation="leaky_relu"),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(1),  # a logit: "real" > 0
    ], name="discriminator")


class GAN(keras.Model):
    """A generator and a discriminator trained against each other by `fit(images)`.

    Each step: the discriminator learns to tell a batch of real images from as many generated
    ones (one update with its optimizer), then the generator learns to make the updated
    discriminator call its images real (one update with its own optimizer).
    """

    def __init__(self, generator, discriminator, latent_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer="adam", g_optimizer="adam", **kwargs):
        self.d_optimizer = keras.optimizers.get(d_optimizer)
        self.g_optimizer = keras.optimizers.get(g_optimizer)
        super().compile(optimizer=PerModelOptimizers(
            discriminator=(self.d_optimizer, self.discriminator),
            generator=(self.g_optimizer, self.generator)), **kwargs)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def generate(self, g_params, g_state, key, n):
        z = jax.random.normal(key, (n, self.latent_dim))
        images, g_state = self.generator.stateless_call(g_params, g_state, z, training=True)
        return images, g_state

    def train_step(self, state, data):
        trainable, non_trainable, opt_states, metric_values = state
        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        n = real.shape[0]
        tv, ntv = self.trainable_variables, self.non_trainable_variables
        gen, disc = self.generator, self.discriminator
        g_params = select(trainable, tv, gen.trainable_variables)
        d_params = select(trainable, tv, disc.trainable_variables)
        g_state = select(non_trainable, ntv, gen.non_trainable_variables)
        d_state = select(non_trainable, ntv, disc.non_trainable_variables)
        key_d, key_g = jax.random.split(self.rng_key())  # a new key each step, from the seed
        real_label, fake_label = jnp.ones((n, 1)), jnp.zeros((n, 1))

        # 1. the discriminator: real images -> 1, generated ones -> 0
        def d_loss_fn(d_params):
            fake, _ = self.generate(g_params, g_state, key_d, n)
            logits, new_d_state = disc.stateless_call(
                d_params, d_state, jnp.concatenate([real, fake]), training=True)
            loss = self.loss_fn(jnp.concatenate([real_label, fake_label]), logits)
            return loss, new_d_state

        (d_loss, d_state), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(d_params)
        d_params, d_opt = self.d_optimizer.stateless_apply(
            opt_states["discriminator"], d_grads, d_params)

        # 2. the generator: make the updated discriminator say 1
        def g_loss_fn(g_params):
            fake, new_g_state = self.generate(g_params, g_state, key_g, n)
            logits, _ = disc.stateless_call(d_params, d_state, fake, training=True)
            return self.loss_fn(real_label, logits), new_g_state

        (g_loss, g_state), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(g_params)
        g_params, g_opt = self.g_optimizer.stateless_apply(
            opt_states["generator"], g_grads, g_params)

        # 3. the new state, in the slots it came in
        trainable = scatter(trainable, tv, disc.trainable_variables, d_params)
        trainable = scatter(trainable, tv, gen.trainable_variables, g_params)
        non_trainable = scatter(non_trainable, ntv, disc.non_trainable_variables, d_state)
        non_trainable = scatter(non_trainable, ntv, gen.non_trainable_variables, g_state)
        k = len(self.d_loss_tracker.variables)
        d_vals = self.d_loss_tracker.stateless_update_state(metric_values[:k], d_loss)
        g_vals = self.g_loss_tracker.stateless_update_state(metric_values[k:], g_loss)
        logs = {"d_loss": self.d_loss_tracker.stateless_result(d_vals),
                "g_loss": self.g_loss_tracker.stateless_result(g_vals)}
        opt_states = {"discriminator": d_opt, "generator": g_opt}
        return logs, (trainable, non_trainable, opt_states, d_vals + g_vals)


def build_gan(latent_dim: int = 64, hidden: int = 256, learning_rate: float = 2e-4) -> GAN:
    """A compiled GAN (Adam with beta_1=0.5 for both players, as is usual for GANs)."""
    gan = GAN(make_generator(latent_dim, hidden), make_discriminator(hidden), latent_dim)
    gan.compile(d_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5))
    return gan


# ----------------------------------------------------------------------------- data, output
def load_images(samples: int | None = None) -> np.ndarray:
    """Fashion-MNIST training images as float32 in [0, 1], shape (n, 28, 28)."""
    (x, _), _ = keras.datasets.fashion_mnist.load_data(fallback_to_sample=True)
    if samples:
        x = x[:samples]
    return (x / 255.0).astype("float32")


def save_grid(images: np.ndarray, path: str, title: str | None = None) -> None:
    """Save images (n, 28, 28) as a square-ish grid PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(images)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols, rows))
    for ax, i in zip(np.ravel(axes), range(rows * cols)):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray_r", vmin=0.0, vmax=1.0)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--samples", type=int, default=20000, help="training images to use")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--latent-dim", type=int, default=64)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="gan_samples.png")
    args = ap.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    x = load_images(args.samples)
    gan = build_gan(args.latent_dim)
    report = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: print(
        f"epoch {epoch + 1}: d_loss {logs['d_loss']:.4f}  g_loss {logs['g_loss']:.4f}",
        flush=True))
    gan.fit(x, batch_size=args.batch_size, epochs=args.epochs, verbose=0, callbacks=[report])
    z = jax.random.normal(jax.random.key(args.seed), (64, args.latent_dim))
    images = gan.generator.predict(np.asarray(z), verbose=0)
    save_grid(images, args.out, title=f"GAN samples after {args.epochs} epochs")
    print(f"saved {args.out}")
    return gan


if __name__ == "__main__":
    main()
