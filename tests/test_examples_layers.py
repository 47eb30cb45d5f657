"""Short runs of the layer-library workloads under examples/: a residual CNN (Functional,
Conv2D + BatchNormalization + Add + GlobalAveragePooling2D + Dropout), an LSTM text
classifier (TextVectorization + Embedding(mask_zero) + LSTM) and a Siamese model with a
shared encoder. The full runs and their figures are in the examples' docstrings."""
import importlib.util
import pathlib

import numpy as np

import trine

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"trine_example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_residual_cnn_learns():
    mod = _load("residual_cnn")
    model = mod.main(["--epochs", "3", "--samples", "2000", "--test-samples", "500",
                      "--width", "8", "--batch-size", "25"])
    kinds = {type(l).__name__ for l in model.layers}
    assert {"Conv2D", "BatchNormalization", "Add", "GlobalAveragePooling2D", "Dropout"} <= kinds
    loss = model.history_.history["loss"]
    assert loss[-1] < loss[0]
    assert model.history_.history["accuracy"][-1] > 0.4  # chance is 0.1
    # In inference BatchNorm uses its moving statistics (momentum 0.99, as Keras), which
    # after ~200 steps still lag the batch statistics: above chance, far from trained.
    assert model.test_accuracy > 0.2


def test_text_lstm_reads_negations():
    mod = _load("text_lstm")
    model = mod.main(["--samples", "1500", "--epochs", "6"])
    assert model.test_accuracy > 0.8
    x = np.asarray(model.vectorize(np.array(["the film was not good", "a superb story"])))
    assert x.shape == (2, 16) and np.all(x[:, -1] == 0)  # padded: the mask skips the zeros
    p = model.predict(x, verbose=0)[:, 0]
    assert p[1] > 0.5


def test_siamese_shares_its_encoder():
    mod = _load("siamese")
    model = mod.main(["--pairs", "3000", "--epochs", "3"])
    enc = model.encoder
    # one encoder, its weights counted once
    assert model.count_params() == enc.count_params() + 32 + 1
    assert model.test_accuracy > 0.6
    assert sum(isinstance(l, trine.Model) for l in model.layers) == 1  # the encoder, once
