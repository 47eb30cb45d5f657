"""trine.random (Keras `keras.random`): seeds as Keras takes them, keys inside fit /
evaluate / predict, reproducibility, and clear errors."""
import os

import jax
import numpy as np
import pytest

import trine
from trine import ops

os.environ.setdefault("KERAS_BACKEND", "jax")


class Noise(trine.layers.Layer):
    """Adds N(0, 1) noise, drawn twice per call from one generator (the Keras guide's way)."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = trine.random.SeedGenerator(seed)

    def call(self, x):
        a = trine.random.normal(ops.shape(x), seed=self.seed_generator)
        b = trine.random.normal(ops.shape(x), seed=self.seed_generator)
        return ops.concatenate([x + a, x + b], axis=-1)


def _noise_model(seed=None):
    inp = trine.Input((3,))
    return trine.Model(inp, Noise(seed)(inp))


# ------------------------------------------------------------------ seeds as Keras takes them
def test_int_seeds_give_kerass_numbers():
    keras = pytest.importorskip("keras")
    for fn, args in [("normal", ((4, 3),)), ("uniform", ((5,), -1.0, 2.0)),
                     ("truncated_normal", ((6,), 1.0, 3.0)), ("randint", ((7,), 0, 10))]:
        ours = np.asarray(getattr(trine.random, fn)(*args, seed=42))
        theirs = np.asarray(getattr(keras.random, fn)(*args, seed=42))
        np.testing.assert_array_equal(ours, theirs, err_msg=fn)
    # an int seed is stateless: the same draw every time
    np.testing.assert_array_equal(trine.random.normal((3,), seed=7),
                                  trine.random.normal((3,), seed=7))


def test_seeded_generator_eager_sequence_is_kerass():
    keras = pytest.importorskip("keras")
    ours, theirs = trine.random.SeedGenerator(1337), keras.random.SeedGenerator(1337)
    for _ in range(3):
        np.testing.assert_array_equal(trine.random.normal((4,), seed=ours),
                                      keras.random.normal((4,), seed=theirs))
    # next() gives the [seed, counter] pair, usable as a seed
    g = trine.random.SeedGenerator(5)
    pair = np.asarray(g.next())
    assert pair.dtype == np.uint32 and pair.tolist() == [5, 0]
    np.testing.assert_array_equal(trine.random.uniform((3,), seed=pair),
                                  trine.random.uniform((3,), seed=np.array([5, 0], np.uint32)))


def test_unseeded_generators_follow_the_global_seed():
    def draws():
        trine.utils.set_random_seed(3)
        g = trine.random.SeedGenerator()
        return [np.asarray(trine.random.normal((3,), seed=g)) for _ in range(2)] + [
            np.asarray(trine.random.uniform((2,)))]  # seed=None: the global generator
    a, b = draws(), draws()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], a[1])
    trine.utils.set_random_seed(4)
    assert not np.array_equal(trine.random.normal((3,), seed=trine.random.SeedGenerator()), a[0])


# ------------------------------------------------------------------ inside trine's steps
def test_two_draws_in_one_call_differ_and_a_key_fixes_them():
    trine.utils.set_random_seed(0)
    m = _noise_model()
    x = np.zeros((4, 3), np.float32)
    params, state = m.get_params(), m.get_state()
    call = jax.jit(lambda p, s, x, k: m.stateless_call(p, s, x, training=True, rng=k)[0])
    out = np.asarray(call(params, state, x, jax.random.key(1)))
    assert not np.allclose(out[:, :3], out[:, 3:])  # second draw is not the first
    np.testing.assert_array_equal(out, call(params, state, x, jax.random.key(1)))
    assert not np.allclose(out, call(params, state, x, jax.random.key(2)))


def test_predict_draws_fresh_noise_per_batch_and_call_whatever_the_fusion():
    x = np.zeros((64, 3), np.float32)

    def predict(spe, calls=2):
        trine.utils.set_random_seed(0)
        m = _noise_model()
        m.compile(loss="mse", steps_per_execution=spe)
        return [m.predict(x, batch_size=8, verbose=0) for _ in range(calls)]

    fused, single = predict("auto"), predict(1)
    for a, b in zip(fused, single):  # the same draws with and without fusion
        np.testing.assert_array_equal(a, b)
    first, second = fused
    assert not np.allclose(first, second)  # a new predict call, new noise
    rows = {tuple(np.round(first[i * 8], 6)) for i in range(8)}
    assert len(rows) == 8  # every batch its own noise
    assert 0.8 < first.std() < 1.2 and abs(first.mean()) < 0.2


def test_fit_is_reproducible_and_identical_fused_or_not_with_random_layers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 3)).astype(np.float32)
    y = rng.normal(size=(96, 1)).astype(np.float32)

    def run(spe):
        trine.utils.set_random_seed(11)
        inp = trine.Input((3,))
        h = Noise()(inp)
        m = trine.Model(inp, trine.layers.Dense(1)(h))
        m.compile(optimizer="sgd", loss="mse", steps_per_execution=spe)
        hist = m.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_split=0.25)
        return hist.history, m.get_weights()

    (h1, w1), (h2, w2), (h3, w3) = run("auto"), run("auto"), run(1)
    assert h1 == h2 == h3
    for a, b, c in zip(w1, w2, w3):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert h1["val_loss"][0] != h1["val_loss"][1] or h1["loss"][0] != h1["loss"][1]


def test_custom_train_step_draws_from_a_generator():
    """The GAN guide's pattern: a generator on the model, noise drawn in train_step."""
    class Noisy(trine.Model):
        def __init__(self):
            super().__init__()
            self.dense = trine.layers.Dense(1)
            self.seed_generator = trine.random.SeedGenerator(1337)

        def call(self, x):
            return self.dense(x)

        def train_step(self, state, data):
            tv, ntv, ov, mv = state
            x, y = data
            x = x + trine.random.normal(ops.shape(x), seed=self.seed_generator)

            def loss_fn(tv):
                pred, ntv2 = self.stateless_call(tv, ntv, x, training=True)
                return ops.mean((pred - y) ** 2), ntv2
            (loss, ntv), grads = jax.value_and_grad(loss_fn, has_aux=True)(tv)
            tv, ov = self.optimizer.stateless_apply(ov, grads, tv)
            return {"loss": loss}, (tv, ntv, ov, mv)

    x = np.zeros((64, 2), np.float32)
    y = np.zeros((64, 1), np.float32)
    trine.utils.set_random_seed(0)
    m = Noisy()
    m.compile(optimizer="sgd")
    losses = m.fit(x, y, batch_size=8, epochs=1, verbose=0).history["loss"]
    assert np.isfinite(losses).all()
    w = m.get_weights()[0]
    assert np.abs(w).sum() > 0 and not np.array_equal(w, np.zeros_like(w))


# ------------------------------------------------------------------ the other draws
def test_distributions_have_their_shapes_and_moments():
    r = trine.random
    n = (20000,)
    u = np.asarray(r.uniform(n, 2.0, 4.0, seed=1))
    assert u.min() >= 2.0 and u.max() < 4.0 and abs(u.mean() - 3.0) < 0.03
    t = np.asarray(r.truncated_normal(n, 1.0, 2.0, seed=2))
    assert t.min() >= 1.0 - 4.0 and t.max() <= 1.0 + 4.0
    ri = np.asarray(r.randint((1000,), 3, 6, seed=3))
    assert ri.dtype == np.int32 and set(np.unique(ri)) == {3, 4, 5}
    g = np.asarray(r.gamma(n, 2.0, seed=4))
    assert abs(g.mean() - 2.0) < 0.1
    b = np.asarray(r.beta(n, 2.0, 6.0, seed=5))
    assert 0 <= b.min() and b.max() <= 1 and abs(b.mean() - 0.25) < 0.01
    bi = np.asarray(r.binomial(n, 10.0, 0.3, seed=6))
    assert abs(bi.mean() - 3.0) < 0.1 and bi.dtype == np.float32
    c = np.asarray(r.categorical(np.log(np.array([[0.1, 0.9], [0.9, 0.1]])), 500, seed=7))
    assert c.shape == (2, 500) and c[0].mean() > 0.8 and c[1].mean() < 0.2
    s = np.asarray(r.shuffle(np.arange(10), seed=8))
    assert sorted(s.tolist()) == list(range(10)) and s.tolist() != list(range(10))
    rows = np.arange(12).reshape(4, 3)
    sc = np.asarray(r.shuffle(rows, axis=1, seed=9))
    assert sorted(sc[0].tolist()) == [0, 1, 2] and (sc - sc[:, :1] == sc[0] - sc[0, 0]).all()
    d = np.asarray(r.dropout(np.ones((1000,), np.float32), 0.25, seed=10))
    assert set(np.unique(d)) <= {0.0, np.float32(1 / 0.75)} and abs((d == 0).mean() - 0.25) < 0.05
    dn = np.asarray(r.dropout(np.ones((4, 6), np.float32), 0.5, noise_shape=(None, 1), seed=11))
    assert all(len(set(row)) == 1 for row in dn)  # one decision per row
    assert r.normal((2, 3), dtype="float16").dtype == np.float16


def test_bad_input_is_named():
    r = trine.random
    with pytest.raises(TypeError, match="SeedGenerator: seed must be an integer"):
        r.SeedGenerator("abc")
    with pytest.raises(TypeError, match="trine.random.normal: seed must be"):
        r.normal((2,), seed="abc")
    with pytest.raises(TypeError, match="trine.random.uniform: seed must be"):
        r.uniform((2,), seed=np.zeros((3,), np.uint32))
    with pytest.raises(TypeError, match="shape must be a tuple of integers"):
        r.normal((None, 3))
    with pytest.raises(ValueError, match="float type"):
        r.normal((2,), dtype="int32")
    with pytest.raises(ValueError, match="integer type"):
        r.randint((2,), 0, 3, dtype="float32")
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        r.dropout(np.ones(3), 1.0)
    with pytest.raises(ValueError, match="logits must be 2-D"):
        r.categorical(np.zeros(3), 2)
    g = r.SeedGenerator(1)
    with pytest.raises(RuntimeError, match="stateless_call"):
        jax.jit(lambda x: x + r.normal((2,), seed=g))(np.zeros(2, np.float32))


def test_layer_with_a_generator_saves_and_loads(tmp_path):
    @trine.saving.register_keras_serializable(package="test_random_api")
    class Sampling(trine.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = trine.random.SeedGenerator(1337)

        def call(self, inputs):
            mean, log_var = inputs
            eps = trine.random.normal(ops.shape(mean), seed=self.seed_generator)
            return mean + ops.exp(0.5 * log_var) * eps

    inp = trine.Input((4,))
    mean, log_var = trine.layers.Dense(2)(inp), trine.layers.Dense(2)(inp)
    m = trine.Model(inp, [mean, log_var, Sampling()([mean, log_var])])
    assert len(m.weights) == 4  # the generator holds no weights
    path = tmp_path / "vae_encoder.keras"
    m.save(path)
    back = trine.saving.load_model(path)
    x = np.ones((3, 4), np.float32)
    a, b = m.predict(x, verbose=0), back.predict(x, verbose=0)
    np.testing.assert_array_equal(a[0], b[0])
    assert np.isfinite(b[2]).all() and not np.allclose(b[2], b[0])
