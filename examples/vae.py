"""A variational autoencoder on Fashion-MNIST, trained with `fit`.

An encoder maps an image to the mean and log-variance of a Gaussian; a `Sampling` layer draws
a latent vector from it with its own seeded key (`self.rng_key()`, so runs repeat); a decoder
maps the vector back to an image. The KL term is added inside `call` with `self.add_loss`, so
the built-in loss (the compiled reconstruction loss plus the added losses) includes it; an
overridden `compute_loss` also reports the two parts as metrics.

    python examples/vae.py --epochs 10 --samples 20000 --out vae_reconstructions.png
"""
from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

import trine as keras


class Sampling(keras.layers.Layer):
    """`z = mean + exp(log_var / 2) * eps`, eps ~ N(0, 1) from this layer's seeded key.

    At inference (`training=False`) it returns the mean, so reconstructions are deterministic.
    """

    def call(self, inputs, training=None):
        z_mean, z_log_var = inputs
        if not training:
            return z_mean
        eps = jax.random.normal(self.rng_key(), z_mean.shape, z_mean.dtype)
        return z_mean + jnp.exp(0.5 * z_log_var) * eps


def make_encoder(latent_dim: int = 2, hidden: int = 256) -> keras.Model:
    images = keras.Input((28, 28))
    h = keras.layers.Flatten()(images)
    h = keras.layers.Dense(hidden, activation="relu")(h)
    z_mean = keras.layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var")(h)
    return keras.Model(images, [z_mean, z_log_var], name="encoder")


def make_decoder(latent_dim: int = 2, hidden: int = 256) -> keras.Model:
    return keras.Sequential([
        keras.Input((latent_dim,)),
        keras.layers.Dense(hidden, activation="relu"),
        keras.layers.Dense(28 * 28, activation="sigmoid"),
        keras.layers.Reshape((28, 28)),
    ], name="decoder")


def reconstruction_loss(images, reconstructions):
    """Binary cross-entropy summed over the pixels of each image: shape (batch,)."""
    p = jnp.clip(reconstructions, 1e-7, 1.0 - 1e-7)
    bce = -(images * jnp.log(p) + (1.0 - images) * jnp.log(1.0 - p))
    return jnp.sum(bce, axis=(1, 2))


class VAE(keras.Model):
    """Encoder, sampling, decoder; `fit(x, x)` minimises reconstruction + KL."""

    def __init__(self, latent_dim: int = 2, hidden: int = 256, **kwargs):
        super().__init__(**kwargs)
        self.encoder = make_encoder(latent_dim, hidden)
        self.sampling = Sampling(name="sampling")
        self.decoder = make_decoder(latent_dim, hidden)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")

    def call(self, images, training=None):
        z_mean, z_log_var = self.encoder(images)
        z = self.sampling([z_mean, z_log_var], training=training)
        kl = -0.5 * jnp.sum(1.0 + z_log_var - z_mean ** 2 - jnp.exp(z_log_var), axis=1)
        self.add_loss(jnp.mean(kl))
        return self.decoder(z)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        total = super().compute_loss(x, y, y_pred, sample_weight, training=training)
        kl = sum(self.losses)  # what call() added
        n = jax.tree_util.tree_leaves(x)[0].shape[0]  # weight batches by size, as "loss" is
        self.kl_tracker.update_state(kl, sample_weight=n)
        self.reconstruction_tracker.update_state(total - kl, sample_weight=n)
        return total


def build_vae(latent_dim: int = 2, hidden: int = 256, learning_rate: float = 1e-3) -> VAE:
    vae = VAE(latent_dim, hidden)
    vae.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=reconstruction_loss)
    return vae


def load_images(samples: int | None = None, split: str = "train") -> np.ndarray:
    """Fashion-MNIST images as float32 in [0, 1], shape (n, 28, 28)."""
    (x, _), (xt, _) = keras.datasets.fashion_mnist.load_data(fallback_to_sample=True)
    x = x if split == "train" else xt
    if samples:
        x = x[:samples]
    return (x / 255.0).astype("float32")


def save_reconstructions(images: np.ndarray, reconstructions: np.ndarray, path: str) -> None:
    """Originals (top row) over their reconstructions (bottom row), as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(n, 2.2), squeeze=False)
    for i in range(n):
        for row, img in enumerate((images[i], reconstructions[i])):
            axes[row, i].imshow(img, cmap="gray_r", vmin=0.0, vmax=1.0)
            axes[row, i].axis("off")
    axes[0, 0].set_title("input", fontsize=8, loc="left")
    axes[1, 0].set_title("reconstruction", fontsize=8, loc="left")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--samples", type=int, default=20000, help="training images to use")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--latent-dim", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default="vae_reconstructions.png")
    args = ap.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    x = load_images(args.samples)
    vae = build_vae(args.latent_dim)
    report = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: print(
        f"epoch {epoch + 1}: loss {logs['loss']:.2f}  reconstruction "
        f"{logs['reconstruction_loss']:.2f}  kl {logs['kl_loss']:.2f}", flush=True))
    vae.fit(x, x, batch_size=args.batch_size, epochs=args.epochs, verbose=0, callbacks=[report])
    test = load_images(12, split="test")
    save_reconstructions(test, vae.predict(test, verbose=0), args.out)
    print(f"saved {args.out}")
    return vae


if __name__ == "__main__":
    main()
